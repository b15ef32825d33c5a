/**
 * The shape every importer produces: a plan of edgeflow API payloads (see
 * shared/spec/api.md) that an applier sends in order — pools, limits, flows
 * (`POST /register`), deployments (`POST /deploy`). Importers are pure: no
 * HTTP, no database, no runtime; the same input always yields a deepEqual
 * plan, so re-applying it is a no-op on the idempotent server.
 *
 * Expected failures (bad config, missing environment) are return values with
 * paths, like the API's problem documents, not exceptions.
 */

/** One step of a flow, as `POST /register` accepts it. */
export interface StepPayload {
  slug: string;
  handler?: string;
  depends_on?: string[];
  max_attempts?: number;
  base_delay?: number;
  timeout?: number;
  args?: Record<string, unknown>;
}

/** Body of `POST /register`. */
export interface RegisterPayload {
  name: string;
  description?: string;
  entrypoint?: string;
  image?: string;
  tags?: string[];
  parameters?: Record<string, unknown>;
  steps?: StepPayload[];
}

/** One schedule of a deployment. */
export type SchedulePayload =
  & ({ cron: string; timezone: string } | { interval: number; anchor?: string } | {
    rrule: string;
    timezone: string;
  })
  & { parameters?: Record<string, unknown>; active?: boolean };

/** Container settings of a deployment (Prefect's docker job variables). */
export interface JobVariables {
  image?: string;
  pull_policy?: string;
  volumes?: string[];
  network?: string;
}

/** Body of `POST /deploy`. */
export interface DeployPayload {
  name: string;
  flow: string;
  version: "latest";
  pool: string;
  queue: string;
  parameters: Record<string, unknown>;
  tags: string[];
  schedules: SchedulePayload[];
  concurrency_limit?: number;
  collision_strategy?: "enqueue" | "cancel_new";
  paused?: boolean;
  job_variables?: JobVariables;
}

/** Body of `POST /deploy/pools`. */
export interface PoolPayload {
  name: string;
  type: "pull" | "push";
  concurrency_limit?: number;
  paused: boolean;
}

/** A tag concurrency limit to create or update. */
export interface LimitPayload {
  tag: string;
  limit: number;
}

/** Everything one import wants the server to hold. */
export interface ImportPlan {
  pools: PoolPayload[];
  limits: LimitPayload[];
  flows: RegisterPayload[];
  deployments: DeployPayload[];
  /** Flows the source marks inactive; registered anyway, their deployments paused. */
  inactiveFlows: string[];
  /** Pools deployments use that this plan does not create: wait for them (sorted). */
  requiredPools: string[];
  /** Flow name → original task name → step slug (slugs may be sanitized names). */
  stepSlugs: Record<string, Record<string, string>>;
  warnings: string[];
}

/** One problem with the input, located like the API's `errors[]`. */
export interface ImportIssue {
  /** e.g. `trex.flow.flows[1].name`, `env.PREFECT_DOCKER_VOLUMES`, "" for the whole document. */
  path: string;
  message: string;
  /** 1-based source position, when the input is text (YAML). */
  line?: number;
  column?: number;
}

/** Result of an importer: a plan, or every problem found. */
export type ImportResult = { ok: true; plan: ImportPlan } | { ok: false; errors: ImportIssue[] };

/** Format `["a", 1, "b"]` as `a[1].b` (odd keys as `["k y"]`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** Pools referenced by deployments that the plan itself does not create, sorted. */
export function requiredPools(pools: PoolPayload[], deployments: DeployPayload[]): string[] {
  const created = new Set(pools.map((p) => p.name));
  const used = new Set(deployments.map((d) => d.pool).filter((p) => !created.has(p)));
  return [...used].sort();
}

/**
 * A deep copy of user JSON, so a plan never aliases (and a caller mutating its
 * input later never changes) an already-made plan.
 */
export function copyJson<T>(value: T): T {
  return structuredClone(value);
}

/** Turn validator issues (zod's `{path, message}`) into located import issues. */
export function toIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: readonly PropertyKey[] = [],
): ImportIssue[] {
  return issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}
