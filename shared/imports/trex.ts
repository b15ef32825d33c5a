/**
 * Import a trex flow plugin (`package.json` → `trex.flow`, seed 000) as an
 * edgeflow plan: each flow becomes a registered flow (one implicit step whose
 * handler is the entrypoint) and a deployment of the same name in
 * PREFECT_POOL, queue `default`, with docker job variables from the
 * environment; each `concurrencyLimitOptions` entry becomes a tag limit.
 *
 * Where we differ from trex's own deployer, on purpose:
 * - A flow's `image` overrides the top-level one, as the plugin docs say
 *   (trex's code lets the top-level image win whenever it is set).
 * - The tag and registry rewrite apply to whichever image is chosen, and a
 *   pinned reference (`:tag`, `@digest`) is kept as is.
 * - `concurrencyLimit > 0` alone sets the deployment limit (collision
 *   strategy `enqueue`, trex's ENQUEUE); trex also wants a
 *   `concurrencyLimitName`, which has no counterpart here: edgeflow limits
 *   each deployment by itself.
 * - Malformed environment values are errors, not silent defaults.
 * - A flow's `concurrencyLimitOptions` tags are added to its tags: the
 *   options sit on the flow, so they limit it. In Prefect a limit on tag
 *   `etl-limit` holds back only runs tagged `etl-limit`, and trex never tags
 *   the flow with it, so the seed's example (tags `etl`, `daily`; limit on
 *   `etl-limit`) would limit nothing. Runs carry their flow's tags, so every
 *   task of the flow's runs, ad hoc or not, counts against the limit.
 */
import { z } from "zod";
import {
  copyJson,
  type DeployPayload,
  type ImportIssue,
  type ImportResult,
  type LimitPayload,
  type RegisterPayload,
  requiredPools,
  toIssues,
} from "./plan.ts";
import { NAME_PATTERN, NAME_RULE } from "./names.ts";
import {
  type Env,
  finalImage,
  readTrexSettings,
  resolveLimit,
  type TrexSettings,
} from "./trex_env.ts";

const LimitOption = z.object({
  tag: z.string().min(1),
  limit: z.union([z.number(), z.string().min(1)]),
});

const TrexFlowSchema = z.object({
  name: z.string().regex(NAME_PATTERN, NAME_RULE),
  entrypoint: z.string().min(1),
  image: z.string().min(1).optional(),
  tags: z.array(z.string().min(1)).optional(),
  concurrencyLimitOptions: z.array(LimitOption).optional(),
  parameter_openapi_schema: z.record(z.string(), z.unknown()).optional(),
  concurrencyLimitName: z.string().optional(),
  concurrencyLimit: z.number().int().nonnegative().optional(),
});

/** The part of a package.json this importer reads; other keys are ignored. */
export const TrexPackageSchema = z.object({
  trex: z.object({
    flow: z.object({
      image: z.string().min(1).optional(),
      flows: z.array(TrexFlowSchema).optional(),
    }),
  }),
});

/** A validated `trex.flow.flows[]` entry. */
export type TrexFlow = z.infer<typeof TrexFlowSchema>;

/**
 * Plan the import of a parsed package.json. `env` stands in for the process
 * environment (PREFECT_POOL, PLUGINS_IMAGE_TAG, PLUGINS_PULL_POLICY,
 * PREFECT_DOCKER_VOLUMES, PREFECT_DOCKER_NETWORK,
 * PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG and any variable a limit names).
 * Returns every problem found, with paths like `trex.flow.flows[1].name`.
 */
export function planTrexImport(pkgJson: unknown, env: Env): ImportResult {
  const parsed = TrexPackageSchema.safeParse(pkgJson);
  const settings = readTrexSettings(env);
  const errors: ImportIssue[] = [
    ...(parsed.success ? [] : toIssues(parsed.error.issues)),
    ...(settings.ok ? [] : settings.errors),
  ];
  if (!parsed.success || !settings.ok) return { ok: false, errors };

  const { image: defaultImage, flows = [] } = parsed.data.trex.flow;
  const warnings: string[] = [];
  if (flows.length === 0) warnings.push("trex.flow.flows is empty: nothing to import");

  const registered: RegisterPayload[] = [];
  const deployments: DeployPayload[] = [];
  const limits = new Map<string, { limit: number; path: string }>();
  const seen = new Set<string>();
  const limitNames = new Map<string, string>();

  flows.forEach((f, i) => {
    const at = `trex.flow.flows[${i}]`;
    if (seen.has(f.name)) errors.push({ path: `${at}.name`, message: `duplicate flow ${f.name}` });
    seen.add(f.name);

    (f.concurrencyLimitOptions ?? []).forEach((o, j) => {
      const path = `${at}.concurrencyLimitOptions[${j}].limit`;
      const r = resolveLimit(o.limit, env, path);
      if ("error" in r) {
        errors.push(r.error);
        return;
      }
      const prior = limits.get(o.tag);
      if (prior && prior.limit !== r.limit) {
        errors.push({
          path,
          message: `tag ${o.tag} is limited to ${prior.limit} at ${prior.path}, here ${r.limit}`,
        });
      } else if (!prior) limits.set(o.tag, { limit: r.limit, path });
    });

    const source = f.image ?? defaultImage;
    let image: string | undefined;
    if (source) {
      const chosen = finalImage(source, settings.settings);
      image = chosen.image;
      if (chosen.warning) warnings.push(`${at}: ${chosen.warning}`);
    } else warnings.push(`${at}: no image (neither the flow's nor trex.flow.image)`);

    const tags = [
      ...new Set([...(f.tags ?? []), ...(f.concurrencyLimitOptions ?? []).map((o) => o.tag)]),
    ];
    registered.push({
      name: f.name,
      entrypoint: f.entrypoint,
      ...(image ? { image } : {}),
      tags,
      ...(f.parameter_openapi_schema ? { parameters: copyJson(f.parameter_openapi_schema) } : {}),
    });
    deployments.push(deployment(f, image, tags, settings.settings));

    const limited = (f.concurrencyLimit ?? 0) > 0;
    if (f.concurrencyLimitName && !limited) {
      warnings.push(`${at}: concurrencyLimitName without concurrencyLimit > 0 sets no limit`);
    } else if (f.concurrencyLimitName && limited) {
      const other = limitNames.get(f.concurrencyLimitName);
      if (other) {
        warnings.push(
          `${at}: shares concurrencyLimitName ${f.concurrencyLimitName} with ${other}; ` +
            "edgeflow limits each deployment separately",
        );
      } else limitNames.set(f.concurrencyLimitName, f.name);
    }
  });

  if (errors.length) return { ok: false, errors };
  const limitList: LimitPayload[] = [...limits].map(([tag, { limit }]) => ({ tag, limit }));
  return {
    ok: true,
    plan: {
      // trex creates no pools: it waits until PREFECT_POOL exists (requiredPools).
      pools: [],
      limits: limitList,
      flows: registered,
      deployments,
      inactiveFlows: [],
      requiredPools: requiredPools([], deployments),
      stepSlugs: {},
      warnings,
    },
  };
}

function deployment(
  f: TrexFlow,
  image: string | undefined,
  tags: string[],
  s: TrexSettings,
): DeployPayload {
  const limit = f.concurrencyLimit ?? 0;
  return {
    // trex names the deployment after the flow ("Flow and deployment name").
    name: f.name,
    flow: f.name,
    version: "latest",
    pool: s.pool,
    queue: "default",
    parameters: {},
    tags: [...tags],
    schedules: [],
    ...(limit > 0 ? { concurrency_limit: limit, collision_strategy: "enqueue" as const } : {}),
    job_variables: {
      ...(image ? { image } : {}),
      pull_policy: s.pullPolicy,
      volumes: [...s.volumes],
      ...(s.network ? { network: s.network } : {}),
    },
  };
}
