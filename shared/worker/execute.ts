/**
 * One task, start to end: run its handler, turn the outcome into a result
 * the server accepts, report it under the task's lease.
 *
 * The worker loop does the bookkeeping (slots, leases, events); this module
 * decides what a task's outcome *is*, which is where the protocol's edge
 * cases live: outputs that are not JSON, outputs the server refuses, and
 * results that must not be reported because the lease is gone.
 */
import {
  type ClaimedTask,
  type EncodedResult,
  type ProtocolClient,
  type ReportOutcome,
  type RetryPolicy,
} from "./client.ts";
import { type Reporter, singleReporter } from "./result_batch.ts";
import { type Handler, type TaskContext, waitsOf } from "./context.ts";
import type { WaitRequest } from "./wait_for_event.ts";
import type { Clock, Logger } from "./deps.ts";
import { HttpError, NonRetryableError, type ReportedError, toReportedError } from "./errors.ts";

/** How a task ended on this worker. */
export type TaskSettlement =
  | { status: "completed"; output: unknown; report: ReportOutcome }
  | { status: "failed"; error: ReportedError; report: ReportOutcome }
  /** `ctx.waitForEvent`: the attempt ended suspended until the event (or its timeout). */
  | { status: "suspended"; wait: WaitRequest; report: ReportOutcome }
  /** The signal fired (cancel, lost, shutdown): nothing was reported. */
  | { status: "aborted" };

/** What `executeTask` needs from the worker. */
export interface ExecuteDeps {
  client: ProtocolClient;
  clock: Clock;
  retry: RetryPolicy;
  logger: Logger;
  /** The handler has returned; only the report is left. */
  onSettled?: () => void;
  /** How results are sent (default: one call each, `reportResult`). */
  reporter?: Reporter;
  /** Runs before the result is reported: the task's log lines are sent first. */
  beforeReport?: () => Promise<void>;
  /** Calls the handler (console capture runs it inside the task's async context). */
  runHandler?: (fn: () => unknown) => unknown;
}

/**
 * Runs `handler` (undefined: the worker has no such handler, which fails the
 * task without retries) and reports the result unless `ctx.signal` aborted.
 */
export async function executeTask(
  task: ClaimedTask,
  handler: Handler | undefined,
  ctx: TaskContext,
  deps: ExecuteDeps,
): Promise<TaskSettlement> {
  let outcome: { ok: true; output: unknown } | { ok: false; error: ReportedError };
  try {
    if (!handler) {
      throw new NonRetryableError(`worker ${ctx.worker} has no handler named "${task.handler}"`);
    }
    const output = await (deps.runHandler ? deps.runHandler(() => handler(ctx)) : handler(ctx));
    outcome = { ok: true, output: output === undefined ? null : output };
  } catch (err) {
    outcome = { ok: false, error: toReportedError(err) };
  }
  deps.onSettled?.();
  const suspension = waitsOf(ctx)?.requested;
  // Its lines go before its result: once the result is in, the lease no longer takes them.
  if (!ctx.signal.aborted) await deps.beforeReport?.();
  // Once aborted, the result is not ours to give: the run is cancelled or the
  // lease belongs to someone else. Reporting would only earn a 409.
  if (ctx.signal.aborted) return { status: "aborted" };

  const send = deps.reporter ?? singleReporter(deps.client, deps.clock, deps.retry);
  const report = (result: EncodedResult) =>
    send(
      task.task,
      result,
      ctx.signal,
      (err, n) =>
        deps.logger("warn", "reporting a task result failed; retrying", {
          task: task.task,
          attempt: n,
          error: String(err),
        }),
    );

  if (suspension) {
    // Whatever the handler did after asking (returned, threw), the attempt is suspended.
    const body = JSON.stringify({ lease: task.lease, wait: suspension });
    // Never batched: its answer is needed and it is rare.
    const single = singleReporter(deps.client, deps.clock, deps.retry);
    const sent = await single(task.task, { kind: "suspend", body }, ctx.signal, () => {});
    // 409 `conflict` (a map step, a wait out of step; or the run stopped, where the failure is
    // refused too) or another 4xx: fail the attempt with the reason. 409 `stale_lease`: not ours.
    const refused = sent.outcome === "rejected" ||
      (sent.error instanceof HttpError && sent.error.code === "conflict");
    if (refused) {
      outcome = {
        ok: false,
        error: { message: `the wait was refused: ${String(sent.error)}`, retryable: false },
      };
    } else {
      logOutcome(deps.logger, task, "suspend", sent);
      return { status: "suspended", wait: suspension, report: sent.outcome };
    }
  }
  if (outcome.ok) {
    const encoded = encodeComplete(task.lease, outcome.output);
    if ("body" in encoded) {
      const sent = await report(encoded);
      // 413/422: the server will never take this output, and without a
      // report the run would wait a whole lease for nothing. Fail it instead.
      const refused = sent.error instanceof HttpError && [413, 422].includes(sent.error.status);
      if (sent.outcome !== "rejected" || !refused) {
        logOutcome(deps.logger, task, "complete", sent);
        return { status: "completed", output: outcome.output, report: sent.outcome };
      }
      outcome = {
        ok: false,
        error: {
          message: `the server refused the output: ${String(sent.error)}`,
          retryable: false,
        },
      };
    } else {
      outcome = { ok: false, error: encoded.error };
    }
  }
  const error = outcome.error;
  const sent = await report({ kind: "fail", body: JSON.stringify({ lease: task.lease, error }) });
  logOutcome(deps.logger, task, "fail", sent);
  return { status: "failed", error, report: sent.outcome };
}

/** The complete body, or the error to report when the output is not JSON. */
function encodeComplete(
  lease: string,
  output: unknown,
): EncodedResult | { error: ReportedError } {
  try {
    return { kind: "complete", body: JSON.stringify({ lease, output }) };
  } catch (err) {
    // BigInt, cycles: no retry will serialise them either.
    const message = `the handler's output is not JSON-serialisable: ${
      err instanceof Error ? err.message : String(err)
    }`;
    return { error: { message, retryable: false } };
  }
}

function logOutcome(
  logger: Logger,
  task: ClaimedTask,
  kind: "complete" | "fail" | "suspend",
  sent: { outcome: ReportOutcome; error?: unknown },
): void {
  const fields = { task: task.task, run: task.run_id, step: task.step, outcome: sent.outcome };
  if (sent.outcome === "accepted" || sent.outcome === "aborted") return;
  if (sent.outcome === "stale") {
    // Expected under at-least-once delivery: another attempt holds the task now.
    logger("warn", `${kind} refused: the lease is stale or the run is not running`, fields);
  } else {
    logger("error", `${kind} could not be reported`, { ...fields, error: String(sent.error) });
  }
}
