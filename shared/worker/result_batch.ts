/**
 * Results that finish close together go to the server in one call
 * (`POST /heartbeat/tasks/complete` / `…/fail`, docs/worker-protocol.md "Many results in one
 * call, and the next tasks with them").
 *
 * The first result of a kind opens a window of `windowMs`; every result of
 * that kind finishing inside it joins the same request (at most `maxBatch`;
 * a full batch leaves at once). The server fences and answers each entry on
 * its own, so each caller gets the outcome its single call would have had:
 * `accepted`, `stale` (409, final), `rejected` (another 4xx), `gave_up` or
 * `aborted`. A transient failure of the whole request is retried with the
 * same backoff as single reports, for the entries whose signal still lives.
 *
 * Falls back to one call per result when the batch cannot be taken as a
 * whole: a control plane without the batch routes (404/405: remembered) or
 * a body too large or refused (413/422: the single call then decides, so a
 * refused output still fails its task as before).
 */
import {
  backoffMs,
  type EncodedResult,
  type HeartbeatResponse,
  type ProtocolClient,
  type ReportOutcome,
  reportResult,
  type RetryPolicy,
} from "./client.ts";
import { type Clock, sleep } from "./deps.ts";
import { HttpError, isTransient } from "./errors.ts";

/** How a result is sent: `reportResult`'s signature without the client and policy. */
export type Reporter = (
  taskId: string,
  result: EncodedResult,
  signal: AbortSignal,
  onRetry?: (err: unknown, attempt: number) => void,
) => Promise<{ outcome: ReportOutcome; error?: unknown }>;

/** Default batching window: results finishing within 2 ms of each other share a call. */
export const DEFAULT_RESULT_BATCH_MS = 2;
/** Most results in one call (the server takes up to 1,000). */
export const MAX_RESULT_BATCH = 100;

interface Pending {
  taskId: string;
  result: EncodedResult;
  signal: AbortSignal;
  onRetry?: (err: unknown, attempt: number) => void;
  resolve: (v: { outcome: ReportOutcome; error?: unknown }) => void;
}

/** One item of a batch answer (the single call's body or problem, with `status`). */
interface BatchItem {
  status?: number;
  code?: string;
  detail?: string;
}

/**
 * How a batch of results (completions or failures) also asks for the worker's next tasks (`next`,
 * the claim in the same call: one round trip per batch instead of a
 * completion and a heartbeat).
 */
export interface NextClaimer {
  /** The `next` member for a batch whose answer frees `freed` slots; null: ask for nothing. */
  request(freed: number): Record<string, unknown> | null;
  /** Takes the tasks the answer's `next` brought (before the batch's results resolve). */
  apply(next: HeartbeatResponse, sentAt: number): void;
}

/** One call per result, as without batching. */
export function singleReporter(
  client: ProtocolClient,
  clock: Clock,
  policy: RetryPolicy,
): Reporter {
  return (taskId, result, signal, onRetry) =>
    reportResult(client, clock, policy, taskId, result, signal, onRetry);
}

/** Collects results for `windowMs` and sends each kind's in one call. */
export class ResultBatcher {
  readonly #queues = { complete: [] as Pending[], fail: [] as Pending[] };
  readonly #timers: { complete: unknown; fail: unknown } = { complete: null, fail: null };
  readonly #single: Reporter;
  #supported = true;

  constructor(
    private readonly client: ProtocolClient,
    private readonly clock: Clock,
    private readonly policy: RetryPolicy,
    private readonly windowMs: number,
    private readonly maxBatch = MAX_RESULT_BATCH,
    private readonly claimer?: NextClaimer,
  ) {
    this.#single = singleReporter(client, clock, policy);
  }

  /** A `Reporter` that batches. */
  readonly report: Reporter = (taskId, result, signal, onRetry) => {
    const kind = result.kind;
    // A suspension (ctx.waitForEvent) has no batch call.
    if (!this.#supported || kind === "suspend") {
      return this.#single(taskId, result, signal, onRetry);
    }
    return new Promise((resolve) => {
      const q = this.#queues[kind];
      q.push({ taskId, result, signal, onRetry, resolve });
      if (q.length >= this.maxBatch) this.#flush(kind);
      else if (this.#timers[kind] === null) {
        this.#timers[kind] = this.clock.setTimeout(
          () => this.#flush(kind),
          this.windowMs,
        );
      }
    });
  };

  #flush(kind: "complete" | "fail"): void {
    this.clock.clearTimeout(this.#timers[kind]);
    this.#timers[kind] = null;
    const batch = this.#queues[kind].splice(0);
    // A lone result goes through the batch route too when it asks for `next`:
    // a worker of capacity 1 running a chain (or retrying a failing step) then
    // makes one call per step.
    const alone = batch.length === 1 && (!this.claimer || this.claimer.request(1) === null);
    if (alone) {
      const [p] = batch;
      this.#single(p.taskId, p.result, p.signal, p.onRetry).then(p.resolve);
    } else if (batch.length > 0) {
      void this.#send(kind, batch);
    }
  }

  async #send(kind: "complete" | "fail", batch: Pending[]): Promise<void> {
    const path = `/heartbeat/tasks/${kind}`;
    for (let attempt = 1;; attempt++) {
      // An entry whose lease was lost or run cancelled meanwhile is not ours to report.
      for (const p of batch) if (p.signal.aborted) p.resolve({ outcome: "aborted" });
      batch = batch.filter((p) => !p.signal.aborted);
      if (!batch.length) return;
      // Each encoded body is a JSON object with the lease first: the entry is it plus the task.
      const next = this.claimer?.request(batch.length) ?? null;
      const body = `{"results":[${
        batch.map((p) => `{"task":${JSON.stringify(p.taskId)},${p.result.body.slice(1)}`)
          .join(",")
      }]${next ? `,"next":${JSON.stringify(next)}` : ""}}`;
      try {
        const sentAt = this.clock.now();
        const res = await this.client.post(path, body) as
          | { results?: BatchItem[]; next?: HeartbeatResponse }
          | null;
        // A control plane without `next` answers none; a refused one (its problem) brings no tasks.
        if (next && Array.isArray(res?.next?.tasks)) this.claimer!.apply(res.next, sentAt);
        const items = Array.isArray(res?.results) ? res.results : [];
        batch.forEach((p, i) => p.resolve(outcomeOf(items[i], path)));
        return;
      } catch (error) {
        if (error instanceof HttpError && [404, 405, 413, 422].includes(error.status)) {
          if (error.status !== 413 && error.status !== 422) this.#supported = false;
          for (const p of batch) {
            this.#single(p.taskId, p.result, p.signal, p.onRetry).then(p.resolve);
          }
          return;
        }
        if (!isTransient(error)) {
          for (const p of batch) p.resolve({ outcome: "rejected", error });
          return;
        }
        if (attempt >= this.policy.attempts) {
          for (const p of batch) p.resolve({ outcome: "gave_up", error });
          return;
        }
        for (const p of batch) p.onRetry?.(error, attempt);
        await sleep(this.clock, backoffMs(this.policy, attempt));
      }
    }
  }
}

function outcomeOf(item: BatchItem | undefined, path: string) {
  const status = Number(item?.status);
  if (status >= 200 && status < 300) return { outcome: "accepted" as const };
  const error = new HttpError(status || 502, item?.code, item?.detail ?? "no answer", path);
  if (status === 409) return { outcome: "stale" as const, error };
  // A missing item (a server that answered fewer entries) is not the result's fault.
  if (!status) return { outcome: "gave_up" as const, error };
  return { outcome: "rejected" as const, error };
}
