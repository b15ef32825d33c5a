/**
 * Batch completion: a worker that claimed many tasks at once hands their
 * results back in one statement (see migrations/0009_complete_batch.sql).
 */
import type { Sql } from "../db/sql.ts";
import type { HeartbeatInput, HeartbeatResult, ResultOutcome } from "./tasks.ts";
import { afterSubflowsDue } from "./subflows.ts";

/** One finished task: its id, the lease it was claimed under, and its output. */
export interface TaskResult {
  task: string;
  lease: string;
  output: unknown;
}

/** Results as the engine's completion functions take them (`output` null when absent). */
function completionEntries(results: TaskResult[]) {
  return results.map((r) => ({ task: r.task, lease: r.lease, output: r.output ?? null }));
}

/**
 * Complete tasks under their leases in one round trip and one transaction.
 * Each gets the outcome `completeTask` would give it, in the order given; a
 * refused entry (stale lease, unknown task) does not stop the others.
 */
export async function completeTasks(sql: Sql, results: TaskResult[]): Promise<ResultOutcome[]> {
  if (results.length === 0) return [];
  const entries = completionEntries(results);
  const [row] = await sql<{ r: ResultOutcome[]; due: boolean }>`
    select edgeflow.complete_tasks(${JSON.stringify(entries)}::text::jsonb) as r,
           edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  return row.r;
}

/**
 * A batch of results and the worker's next claim, in one statement and one
 * transaction (edgeflow.complete_tasks_and_claim, its figure): `outcomes` as
 * `completeTasks` gives them, `next` as `heartbeat` (no leases to extend).
 */
export function completeTasksAndClaim(
  sql: Sql,
  results: TaskResult[],
  h: Omit<HeartbeatInput, "running">,
): Promise<ResultsAndNext> {
  const entries = completionEntries(results);
  return resultsAndClaim(sql, "complete", entries, h);
}

/** What a batch of results with `next` brings: each entry's outcome, and the claim or its refusal. */
export interface ResultsAndNext {
  outcomes: ResultOutcome[];
  next: HeartbeatResult | { error: "worker_name_taken" };
}

/** edgeflow.{complete,fail}_tasks_and_claim: the results, then the claim, in one statement. */
async function resultsAndClaim(
  sql: Sql,
  kind: "complete" | "fail",
  entries: unknown[],
  h: Omit<HeartbeatInput, "running">,
): Promise<ResultsAndNext> {
  const json = JSON.stringify(entries);
  const handlers = h.handlers ? JSON.stringify(h.handlers) : null;
  type Row = { r: { results: ResultOutcome[]; due: boolean; next: ResultsAndNext["next"] } };
  const [{ r }] = kind === "complete"
    ? await sql<Row>`
        select edgeflow.complete_tasks_and_claim(${json}::text::jsonb, ${h.caller.id}::uuid,
                 ${h.caller.admin}, ${h.worker}, ${h.pool}, ${handlers}::text::jsonb,
                 ${h.capacity}::int, ${h.heartbeatSeconds}::int) as r`
    : await sql<Row>`
        select edgeflow.fail_tasks_and_claim(${json}::text::jsonb, ${h.caller.id}::uuid,
                 ${h.caller.admin}, ${h.worker}, ${h.pool}, ${handlers}::text::jsonb,
                 ${h.capacity}::int, ${h.heartbeatSeconds}::int) as r`;
  await afterSubflowsDue(sql, r.due);
  return { outcomes: r.results, next: r.next };
}

/** One failed attempt: its id, the lease it was claimed under, the error, and whether to retry. */
export interface TaskFailure {
  task: string;
  lease: string;
  error: { message: string; [key: string]: unknown };
  retryable: boolean;
}

/**
 * Fail attempts under their leases in one round trip and one transaction.
 * Each gets the outcome `failTask` would give it, in the order given.
 */
export async function failTasks(sql: Sql, failures: TaskFailure[]): Promise<ResultOutcome[]> {
  if (failures.length === 0) return [];
  const [row] = await sql<{ r: ResultOutcome[] }>`
    select edgeflow.fail_tasks(${JSON.stringify(failures)}::text::jsonb) as r`;
  return row.r;
}

/**
 * A batch of failures and the worker's next claim in one call and one
 * transaction (edgeflow.fail_tasks_and_claim): as completeTasksAndClaim is
 * for completions.
 */
export function failTasksAndClaim(
  sql: Sql,
  failures: TaskFailure[],
  h: Omit<HeartbeatInput, "running">,
): Promise<ResultsAndNext> {
  return resultsAndClaim(sql, "fail", failures, h);
}

/** A worker's claim in a group of result requests: its heartbeat without leases to extend. */
export type GroupClaim = Omit<HeartbeatInput, "running">;

/** What a group of result requests brings: each kind's outcomes in order, and one answer per claim. */
export interface GroupAnswer {
  completed: ResultOutcome[];
  failed: ResultOutcome[];
  next: ResultsAndNext["next"][];
}

/**
 * The results of several requests and their workers' claims in one statement
 * and one transaction (edgeflow.results_and_claims, its figure): each entry
 * as `completeTasks` or `failTasks` would answer it, each claim as
 * `completeTasksAndClaim` makes it. shared/app/result_groups.ts sends these.
 */
export async function resultsAndClaims(
  sql: Sql,
  completions: TaskResult[],
  failures: TaskFailure[],
  claims: GroupClaim[],
): Promise<GroupAnswer> {
  const done = completionEntries(completions);
  const asks = claims.map((h) => ({
    key_id: h.caller.id,
    admin: h.caller.admin,
    worker: h.worker,
    pool: h.pool,
    handlers: h.handlers ?? null,
    capacity: h.capacity,
    heartbeat_seconds: h.heartbeatSeconds,
  }));
  type Row = { r: GroupAnswer & { due: boolean } };
  const [{ r }] = await sql<Row>`
    select edgeflow.results_and_claims(${JSON.stringify(done)}::text::jsonb,
             ${JSON.stringify(failures)}::text::jsonb, ${JSON.stringify(asks)}::text::jsonb) as r`;
  await afterSubflowsDue(sql, r.due);
  return { completed: r.completed, failed: r.failed, next: r.next };
}
