/**
 * What a schedule fires into — the merged parameters and the parameter
 * schema of the flow version its deployment runs — and the check that a
 * scheduled run could start with them.
 *
 * Deploy time already refuses schedules that lack required parameters; this
 * check is for what changes afterwards (a new flow version with a new
 * required parameter). A schedule that fails it creates no run for its due
 * fire times and records why in `last_error`, instead of starting runs that
 * a trigger would have refused.
 */
import type { Sql } from "../db/sql.ts";
import { type JsonSchema, validateParameters, withSchemaDefaults } from "../api/params.ts";
import type { FieldError } from "../http/error_path.ts";

/** A schedule and the deployment target it fires into (`edgeflow.schedule_target`). */
export interface ScheduleTarget {
  id: string;
  /** The stored `scheduleToJson` spec. */
  spec: unknown;
  /** Deployment defaults overlaid by the schedule's parameters. */
  parameters: Record<string, unknown>;
  pool: string;
  version_id: string | null;
  schema: JsonSchema | null;
}

/** Why a schedule's runs were not created, as stored in `schedules.last_error`. */
export interface ScheduleProblem {
  code: "invalid_parameters";
  message: string;
  errors: FieldError[];
}

// Versions are immutable, so (version, parameters) always checks the same:
// memoised, since a tick checks the same schedules minute after minute.
const MEMO_LIMIT = 5_000;
const memo = new Map<string, ScheduleProblem | null>();

/** Null when the target's parameters fit its flow version's schema. */
export function parameterProblem(target: ScheduleTarget): ScheduleProblem | null {
  if (!target.schema || !target.version_id) return null;
  const key = `${target.version_id}\u0000${JSON.stringify(target.parameters)}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const errors = validateParameters(
    target.schema,
    withSchemaDefaults(target.schema, target.parameters),
  );
  const problem: ScheduleProblem | null = errors.length === 0 ? null : {
    code: "invalid_parameters",
    message: "the schedule's parameters do not fit the flow version it would run",
    errors,
  };
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, problem);
  return problem;
}

/** The target of one schedule with its state, or null when there is no such schedule. */
export async function loadScheduleTarget(
  sql: Sql,
  scheduleId: string,
): Promise<(ScheduleTarget & { active: boolean; paused: boolean }) | null> {
  const [row] = await sql<{ t: (ScheduleTarget & { active: boolean; paused: boolean }) | null }>`
    select edgeflow.schedule_target(${scheduleId}::uuid) as t`;
  return row?.t ?? null;
}
