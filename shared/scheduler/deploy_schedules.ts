/**
 * `POST /deploy` with its schedules: validate them (422 naming the field),
 * refuse schedules that could not start a run for want of required
 * parameters, plan the final schedule set, and write deployment and
 * schedules in one statement (`edgeflow.deploy`, one transaction).
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

/**
 * Create or update the deployment `body` describes, with its schedules.
 * Throws `ApiError` 422 for invalid schedules; returns upsert refusals
 * (unknown flow, version or pool) for the caller to word.
 */
export async function deployWithSchedules(
  sql: Sql,
  body: DeployInput,
  now: Date,
): Promise<DeployResult> {
  const existing = await sql<ExistingSchedule & { paused: boolean }>`
    select d.paused, s.id, s.spec, s.active, edgeflow.iso(s.next_fire_at) as next_fire_at,
           edgeflow.iso(s.created_at) as created_at
      from edgeflow.deployments d
      left join edgeflow.schedules s on s.deployment_id = d.id
     where d.name = ${body.name}
     order by s.position`;
  const plan = planSchedules(body.schedules, {
    now,
    existing: existing.filter((e) => e.id !== null),
    wasPaused: existing[0]?.paused ?? false,
    paused: body.paused,
  });
  if (!plan.ok) throw ApiError.of("validation_failed", "invalid schedules", plan.errors);
  if (plan.value.length > 0) await assertSchedulable(sql, body, plan.value);

  const [row] = await sql<{ r: DeployResult }>`
    select edgeflow.deploy(${JSON.stringify(body)}::text::jsonb,
                           ${JSON.stringify(plan.value)}::text::jsonb) as r`;
  return row.r;
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
