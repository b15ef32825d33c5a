/**
 * `POST /deploy` with its schedules: validate them (422 naming the field),
 * refuse schedules that could not start a run for want of required
 * parameters, plan the final schedule set, and write deployment and
 * schedules in one statement (`edgeflow.deploy`, one transaction, under the
 * deployment's lock, only if the deployment is still as planned from; that
 * transaction also withdraws the planned runs of changed schedules).
 */
import type { Sql } from "../db/sql.ts";
import type { DeployInput } from "../api/deploy_schema.ts";
import {
  type JsonSchema,
  mergeParameters,
  missingRequiredParameters,
  validateParameters,
  withSchemaDefaults,
} from "../api/params.ts";
import { resolveFlowVersion } from "../engine/flows.ts";
import { ApiError } from "../http/problem.ts";
import type { FieldError } from "../http/error_path.ts";
import { type ExistingSchedule, type PlannedSchedule, planSchedules } from "./plan_schedules.ts";

/** What `edgeflow.deploy` answered: the document, or an upsert refusal naming a field. */
export type DeployResult =
  | { error?: undefined; deployment: unknown; created: boolean }
  | { error: string; path?: string };

/** The deployment as a plan is made against it (`edgeflow.deploy_state`). */
interface DeployState {
  version: string;
  paused: boolean;
  schedules: ExistingSchedule[];
}

/**
 * Plans made against a state a racing deploy changed, before giving up.
 * Each conflict means another deploy (or tick) of this deployment committed,
 * so this bounds the number of writers racing one deployment, not time.
 */
const MAX_PLANS = 25;

/**
 * Create or update the deployment `body` describes, with its schedules.
 * Throws `ApiError` 422 for invalid schedules; returns upsert refusals
 * (unknown flow, version or pool) for the caller to word.
 *
 * The plan is made from a read of the deployment and written only if the
 * deployment is still in the state read (checked under its lock in
 * `edgeflow.deploy`); a racing deploy makes it answer the fresh state, and
 * the plan is made again from that. So concurrent deploys apply one after
 * the other, each exactly as a sequential deploy would.
 */
export async function deployWithSchedules(
  sql: Sql,
  body: DeployInput,
  now: Date,
): Promise<DeployResult> {
  const [read] = await sql<{ state: DeployState }>`
    select edgeflow.deploy_state(${body.name}) as state`;
  let state = read.state;
  let checked = false;
  for (let attempt = 0; attempt < MAX_PLANS; attempt++) {
    const plan = planSchedules(body.schedules, {
      now,
      existing: state.schedules,
      wasPaused: state.paused,
      paused: body.paused,
    });
    if (!plan.ok) throw ApiError.of("validation_failed", "invalid schedules", plan.errors);
    if (!checked && plan.value.length > 0) await assertSchedulable(sql, body, plan.value);
    checked = true;

    const [row] = await sql<{ r: DeployResult | { conflict: true; state: DeployState } }>`
      select edgeflow.deploy(${JSON.stringify(body)}::text::jsonb,
                             ${JSON.stringify(plan.value)}::text::jsonb,
                             ${state.version}, ${now.toISOString()}::timestamptz) as r`;
    if (!("conflict" in row.r)) return row.r;
    state = row.r.state;
  }
  throw ApiError.of(
    "conflict",
    `the deployment was changed by ${MAX_PLANS} concurrent deploys while this one was planned; ` +
      "send it again",
  );
}

/**
 * Every schedule must be able to start a run with no one passing
 * parameters: the flow's required parameters need a value from the
 * deployment, the schedule, or the schema's own default (Prefect 1's rule),
 * and the merged values must match the schema. Unknown flows and versions
 * are left to the upsert, which names them.
 */
async function assertSchedulable(
  sql: Sql,
  body: DeployInput,
  schedules: PlannedSchedule[],
): Promise<void> {
  const version = await resolveFlowVersion(
    sql,
    body.flow,
    body.version === "latest" ? null : body.version,
  );
  if (!version) return;
  const [{ schema }] = await sql<{ schema: JsonSchema | null }>`
    select definition -> 'parameters' as schema from edgeflow.flow_versions
     where id = ${version.id}::uuid`;
  if (!schema) return;
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const add = (e: FieldError) => {
    const key = `${e.path}\u0000${e.message}`;
    if (!seen.has(key)) errors.push(e), seen.add(key);
  };
  schedules.forEach((s, i) => {
    const at = `schedules[${i}].parameters`;
    const merged = mergeParameters(body.parameters, s.parameters);
    const missing = missingRequiredParameters(schema, merged);
    for (const name of missing) {
      add({
        path: `${at}.${name}`,
        message: "is required by the flow and has no default in the deployment or this " +
          "schedule, so a scheduled run could not start",
      });
    }
    for (const e of validateParameters(schema, withSchemaDefaults(schema, merged), "")) {
      // `day is required` was reported above, in words that say what to do.
      const name = e.path.split(/[.[]/)[0];
      if (missing.includes(name)) continue;
      // Blame the layer the value came from: the schedule's, else the deployment's.
      const layer = name in s.parameters ? at : "parameters";
      const sep = e.path === "" || e.path.startsWith("[") ? "" : ".";
      add({ path: `${layer}${sep}${e.path}`, message: e.message });
    }
  });
  if (errors.length > 0) {
    throw ApiError.of(
      "validation_failed",
      "a schedule could not start its runs with these parameters",
      errors,
    );
  }
}
