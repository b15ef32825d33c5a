/**
 * The worker protocol over HTTP (api.md, "heartbeat"): one heartbeat call,
 * and the two result calls. Nothing here schedules or retries except
 * `reportResult`, whose retry policy is the protocol's: results must not be
 * lost while the lease lives, but a `409` is final.
 */
import type { ClaimedTask } from "../api/claimed_task.ts";
import { type Clock, sleep } from "./deps.ts";
import { HttpError, isTransient } from "./errors.ts";

export type { ClaimedTask };

/** The body of `POST /heartbeat`. */
export interface HeartbeatRequest {
  /** The worker's name (`GET /heartbeat/workers`). */
  worker: string;
  /** The work pool to claim from. */
  pool: string;
  /** Handlers the worker implements: it gets only their tasks (omitted: every handler). */
  handlers?: string[];
  /** Free slots: how many new tasks the worker wants now. */
  capacity: number;
  /** Leases the worker holds and wants extended. */
  running: { task: string; lease: string }[];
  /** Long poll: with nothing to claim, the server may hold the answer this long for work. */
  wait_seconds?: number;
}

/** The answer of `POST /heartbeat`. */
export interface HeartbeatResponse {
  /** Default lease length (a step's own timeout may differ: see `lease_expires_at`). */
  lease_seconds: number;
  /** How often the server wants to hear from a busy worker. */
  heartbeat_seconds: number;
  /** Newly claimed tasks, each with a fresh lease. */
  tasks: ClaimedTask[];
  /** Held tasks whose runs were cancelled. */
  cancel: string[];
  /** Held tasks whose leases are no longer this worker's. */
  lost: string[];
  /** The server honours `wait_seconds`. */
  long_poll?: boolean;
}

/** What the protocol client needs. */
export interface ClientOptions {
  url: string;
  key: string;
  fetch: typeof fetch;
  clock: Clock;
  /** Abort a request that has not answered after this long. */
  requestTimeoutMs: number;
}

/** A thin client of the heartbeat function. */
export class ProtocolClient {
  readonly #base: string;
  readonly options: ClientOptions;

  /** A client of the control plane at `options.url`. */
  constructor(options: ClientOptions) {
    this.options = options;
    this.#base = options.url.replace(/\/+$/, "");
  }

  /** Liveness, lease extension and claim in one call. */
  async heartbeat(body: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatResponse> {
    const res = await this.post("/heartbeat", JSON.stringify(body), signal) as
      | Partial<HeartbeatResponse>
      | null;
    // Tolerate a server that omits empty lists: they mean "nothing".
    return {
      lease_seconds: Number(res?.lease_seconds) || 0,
      heartbeat_seconds: Number(res?.heartbeat_seconds) || 0,
      tasks: Array.isArray(res?.tasks) ? res.tasks : [],
      cancel: Array.isArray(res?.cancel) ? res.cancel : [],
      lost: Array.isArray(res?.lost) ? res.lost : [],
      long_poll: res?.long_poll === true,
    };
  }

  /**
   * POSTs a JSON body; resolves with the parsed answer of a 2xx, throws
   * `HttpError` otherwise and the fetch error when the network fails.
   */
  async post(path: string, body: string, signal?: AbortSignal): Promise<unknown> {
    const { clock, requestTimeoutMs } = this.options;
    const controller = new AbortController();
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", abort, { once: true });
    if (signal?.aborted) abort();
    const timer = clock.setTimeout(
      () => controller.abort(new Error(`${path}: no answer after ${requestTimeoutMs} ms`)),
      requestTimeoutMs,
    );
    try {
      const res = await this.options.fetch(this.#base + path, {
        method: "POST",
        headers: {
          "Authorization": `Bearer ${this.options.key}`,
          "Content-Type": "application/json",
        },
        body,
        signal: controller.signal,
      });
      // Always read the body: an unread body pins the connection on most runtimes.
      const text = await res.text();
      const json = parseJson(text);
      if (!res.ok) {
        const problem = (json ?? {}) as { code?: unknown; detail?: unknown };
        throw new HttpError(
          res.status,
          typeof problem.code === "string" ? problem.code : undefined,
          typeof problem.detail === "string" ? problem.detail : undefined,
          path,
          retryAfterMs(res.headers.get("retry-after")),
        );
      }
      return json;
    } finally {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** Exponential backoff of transient failures. */
export interface RetryPolicy {
  /** Tries in all, the first included (default 8). */
  attempts: number;
  /** Delay before the first retry; doubled each time (default 250 ms). */
  baseDelayMs: number;
  /** Longest delay between two tries (default 5,000 ms). */
  maxDelayMs: number;
}

/** Defaults of `RetryPolicy`: about 20 s of retries in all, well inside a typical lease. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 250, maxDelayMs: 5_000 };

/** The delay before retry number `n` (1-based), with ±20 % jitter so workers spread out. */
export function backoffMs(policy: RetryPolicy, n: number, random = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** `Retry-After` (delta-seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The backoff before retry `n` after `err`, but never sooner than the server's `Retry-After`. */
export function retryDelayMs(policy: RetryPolicy, n: number, err: unknown): number {
  const after = err instanceof HttpError ? err.retryAfterMs : undefined;
  return Math.max(backoffMs(policy, n), after ?? 0);
}

/** A result ready to send: which call, and its JSON body (with the lease). */
export interface EncodedResult {
  /** `suspend`: a handler's `waitForEvent` (never batched). */
  kind: "complete" | "fail" | "suspend";
  body: string;
}

/**
 * How a report ended. `accepted`: 2xx. `stale`: 409, the lease is no longer
 * current or the run stopped — final, never retried. `rejected`: another
 * 4xx. `gave_up`: transient failures outlasted the retry policy. `aborted`:
 * the caller's signal fired (the lease was lost or the run cancelled).
 */
export type ReportOutcome = "accepted" | "stale" | "rejected" | "gave_up" | "aborted";

/**
 * Sends a task's result, retrying transient failures with backoff while
 * `signal` lives. `onRetry` sees each transient failure (for logging).
 */
export async function reportResult(
  client: ProtocolClient,
  clock: Clock,
  policy: RetryPolicy,
  taskId: string,
  result: EncodedResult,
  signal: AbortSignal,
  onRetry: (err: unknown, attempt: number) => void = () => {},
): Promise<{ outcome: ReportOutcome; error?: unknown }> {
  const path = `/heartbeat/tasks/${encodeURIComponent(taskId)}/${result.kind}`;
  for (let attempt = 1;; attempt++) {
    if (signal.aborted) return { outcome: "aborted" };
    try {
      await client.post(path, result.body, signal);
      return { outcome: "accepted" };
    } catch (error) {
      if (signal.aborted) return { outcome: "aborted", error };
      if (error instanceof HttpError && error.status === 409) return { outcome: "stale", error };
      if (!isTransient(error)) return { outcome: "rejected", error };
      if (attempt >= policy.attempts) return { outcome: "gave_up", error };
      onRetry(error, attempt);
      await sleep(clock, retryDelayMs(policy, attempt, error), signal);
    }
  }
}
