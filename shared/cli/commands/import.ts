/**
 * `import trex <package.json>` and `import yaml <file>`: plan with the pure
 * importers (shared/imports), then apply the plan to the server. Like trex's
 * flow plugin, which is skipped when PREFECT_API_URL is unset, an import
 * without a server URL is a no-op that says so — and shows what it would do.
 */
import {
  type ImportPlan,
  type ImportResult,
  planTrexImport,
  planYamlImport,
} from "../../imports/mod.ts";
import { parseAssignments } from "../args.ts";
import type { Applied } from "../apply.ts";
import type { Command, CommandContext } from "../command.ts";
import { readOrFail } from "../definitions.ts";
import { applyPlan, planError, planRows } from "../import_apply.ts";
import { CliError, EXIT } from "../io.ts";
import { renderTable } from "../table.ts";
import { printApplied } from "./define.ts";

const COMMON_FLAGS = {
  wait: {
    kind: "string",
    arg: "SECONDS",
    help: "how long to wait for the server and its pools (default 60)",
  },
  "dry-run": { kind: "boolean", help: "show the plan without sending anything" },
} as const;

async function runImport(ctx: CommandContext, source: string, result: ImportResult) {
  // Like trex with PREFECT_API_URL unset: no server means a no-op, not a
  // failure, so start-up scripts run the import unconditionally.
  const noServer = !ctx.url;
  if (!result.ok && !noServer) throw planError(source, result.errors);
  const plan = result.ok ? result.plan : undefined;
  for (const w of plan?.warnings ?? []) ctx.note(`warning: ${w}`);
  for (const f of plan?.inactiveFlows ?? []) {
    ctx.note(`note: flow ${f} is inactive: registered, its deployments paused`);
  }
  if (noServer || ctx.flags.bool("dry-run")) {
    const reason = noServer ? "no server URL set (--url or EDGEFLOW_URL)" : "dry run";
    if (ctx.json) ctx.printJson({ applied: false, reason, ...(plan ? { plan } : result) });
    else if (plan) {
      ctx.print(`${reason}: nothing was deployed. The import would apply:`);
      printPlan(ctx, plan);
    } else {
      ctx.print(`${reason}: nothing was deployed.`);
      const err = planError(source, result.ok ? [] : result.errors);
      ctx.note(
        `the import would fail: ${err.message}\n${err.details.map((d) => `  ${d}`).join("\n")}`,
      );
    }
    return EXIT.ok;
  }
  if (!plan) return EXIT.failed; // unreachable: refused plans threw above
  const wait = ctx.flags.int("wait", ctx.name, 0) ?? 60;
  const rows: Applied[] = [];
  try {
    await applyPlan(ctx.io, ctx.api(), plan, {
      timeoutMs: wait * 1000,
      intervalMs: 3000,
      note: (t) => ctx.note(t),
    }, rows);
  } finally {
    printApplied(ctx, rows);
  }
  const skipped = rows.filter((r) => r.outcome === "not applied");
  if (skipped.length) {
    throw new CliError(
      `${skipped.length} object(s) were not applied`,
      skipped.map((r) => `${r.kind} ${r.name}: ${r.detail}`),
    );
  }
  return EXIT.ok;
}

function printPlan(ctx: CommandContext, plan: ImportPlan): void {
  ctx.print(renderTable([
    { header: "kind", value: (r: ReturnType<typeof planRows>[number]) => r.kind },
    { header: "name", value: (r) => r.name },
    { header: "detail", value: (r) => r.detail },
  ], planRows(plan)));
}

async function readJsonFile(ctx: CommandContext, path: string): Promise<unknown> {
  const text = await readOrFail(ctx.io, path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON`, [(err as Error).message]);
  }
}

/** `edgeflow import trex <package.json>` */
export const importTrexCommand: Command = {
  path: ["import", "trex"],
  args: "<package.json>",
  arity: [1, 1],
  summary: "import the flows of a trex package.json (trex.flow)",
  description: `Registers each flow of trex.flow.flows (one step running its entrypoint),
deploys it under its own name, and creates the tag concurrency limits of
concurrencyLimitOptions. Settings come from the environment, as in trex:
PREFECT_POOL (default "default"), PLUGINS_IMAGE_TAG, PLUGINS_PULL_POLICY,
PREFECT_DOCKER_VOLUMES, PREFECT_DOCKER_NETWORK,
PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG, and any variable a limit names.

First waits for the server's health and for the pool (every 3 s, up to
--wait seconds). Without a server URL it only shows the plan. Re-running
the import changes nothing ("unchanged").

Example:
  SYNC_CONCURRENCY=3 edgeflow import trex package.json --env PLUGINS_IMAGE_TAG=1.4`,
  flags: {
    ...COMMON_FLAGS,
    env: { kind: "list", arg: "KEY=VALUE", help: "set an environment variable for the import" },
  },
  async run(ctx) {
    const [path] = ctx.positionals;
    const env = {
      ...ctx.io.env,
      ...parseAssignments(ctx.flags.list("env"), "env", ctx.name, false),
    };
    const pkg = await readJsonFile(ctx, path);
    return runImport(ctx, path, planTrexImport(pkg, env as Record<string, string>));
  },
};

/** `edgeflow import yaml <file>` */
export const importYamlCommand: Command = {
  path: ["import", "yaml"],
  args: "<file>",
  arity: [1, 1],
  summary: "import a Prefect YAML definition (work pools, flows, tasks, deployments)",
  description: `Creates prefect_work_pools as pools, registers prefect_flows with their
prefect_tasks as steps (celery_task_name → handler, task_kwargs → args,
depends_on, timeouts, retries), and deploys prefect_deployments with their
cron / interval / rrule schedule. is_active: false pauses instead of
deleting. Re-running the import changes nothing.

Example:
  edgeflow import yaml stock_pipeline.yaml`,
  flags: { ...COMMON_FLAGS },
  async run(ctx) {
    const [path] = ctx.positionals;
    return runImport(ctx, path, planYamlImport(await readOrFail(ctx.io, path)));
  },
};
