/**
 * The one map from the refusal codes engine functions return
 * (`{"error": "<code>", …}`: expected outcomes, not exceptions) to the problem
 * codes the API renders. Every route that turns an engine refusal into a
 * problem goes through `refusalError`; tests/engine/refusals_test.ts reads
 * every code the SQL source tree can return and checks it has a row here, so a
 * new refusal in SQL without a mapping fails CI instead of becoming a 500.
 *
 * The message stays with the route (it knows the task, run or field at
 * fault); the problem code, and so the HTTP status, comes from here.
 */
import { ApiError, type ErrorCode, type FieldError } from "../http/problem.ts";

/** Refusal code from SQL → problem code. */
export const REFUSALS = {
  /** No such task, run, flow version, notification… (complete/fail, logs, start_run, retry). */
  not_found: "not_found",
  /** The lease is not the task's current one (results, logs). */
  stale_lease: "stale_lease",
  /** A result for a run that is no longer running: not accepted, the task ends. */
  run_not_running: "conflict",
  /** start_run on an archived flow version. */
  archived: "archived",
  /** start_run: the Idempotency-Key came with another request. */
  idempotency_conflict: "idempotency_conflict",
  /** start_run, upsert_deployment, upsert_pool_queue: the pool does not exist. */
  unknown_pool: "validation_failed",
  /** upsert_deployment: no flow of this name. */
  unknown_flow: "validation_failed",
  /** upsert_deployment: the flow has no such version. */
  unknown_version: "validation_failed",
  /** retry_run from a step the flow does not have. */
  unknown_step: "validation_failed",
  /** worker_heartbeat: another API key registered this worker name. */
  worker_name_taken: "worker_name_taken",
  /** retry_run of a run that has not ended. */
  not_finished: "conflict",
  /** retry_run of a subflow's child run (retry the parent). */
  subflow_child: "conflict",
  /** retry_run while the deployment runs its concurrency limit. */
  limit_full: "conflict",
  /** retry_run of a run whose every step completed. */
  nothing_to_retry: "conflict",
  /** suspend_task (ctx.waitForEvent): a map step's task, or a wait out of step with the last. */
  not_suspendable: "conflict",
} as const satisfies Record<string, ErrorCode>;

/** A refusal code an engine function may return. */
export type RefusalCode = keyof typeof REFUSALS;

/** Is `code` one of the refusals the map knows? */
export function isRefusalCode(code: unknown): code is RefusalCode {
  return typeof code === "string" && Object.hasOwn(REFUSALS, code);
}

/**
 * The `ApiError` of refusal `code`, with the route's message and fields. A
 * code the map does not know (a newer database than this code) is a
 * `conflict`: the request was understood and refused, never a 500.
 */
export function refusalError(code: string, detail: string, errors?: FieldError[]): ApiError {
  return ApiError.of(isRefusalCode(code) ? REFUSALS[code] : "conflict", detail, errors);
}
