/**
 * Errors of the worker SDK, and how a handler's error is reported.
 *
 * Retryability travels as a plain `retryable` property rather than by class,
 * so errors from other libraries (or thrown across realms, where
 * `instanceof` fails) can opt out of retries with `err.retryable = false`.
 */

/** Throw from a handler to fail the task without further attempts. */
export class NonRetryableError extends Error {
  /** Always `false`: the engine fails the step at once. */
  readonly retryable = false;

  /** `message` becomes the step's error; `options.cause` is kept for local logs. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NonRetryableError";
  }
}

/** Why a task's `signal` was aborted. */
export type AbortReason = "cancelled" | "lost" | "shutdown";

/**
 * The `reason` of an aborted task signal. `cancelled`: the run was
 * cancelled; `lost`: the lease is no longer this worker's (it expired and
 * the task went to another worker); `shutdown`: `stop()` timed out while
 * the handler ran. In every case the handler's result is not reported.
 */
export class TaskAbortedError extends Error {
  /** Why the signal fired (also the message). */
  readonly reason: AbortReason;

  /** An abort for `reason`. */
  constructor(reason: AbortReason) {
    super(reason);
    this.reason = reason;
    this.name = "TaskAbortedError";
  }
}

/** A non-2xx answer of the control plane, with its problem document's fields. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The problem document's machine word (`stale_lease`, `validation_failed`, …). */
  readonly code: string | undefined;
  /** The problem document's explanation. */
  readonly detail: string | undefined;

  /** The wait a 429/503 asked for in `Retry-After`, in ms (undefined: none). */
  readonly retryAfterMs: number | undefined;

  /** An answer of `status` to a request for `path`. */
  constructor(
    status: number,
    code: string | undefined,
    detail: string | undefined,
    path: string,
    retryAfterMs?: number,
  ) {
    super(`${path} answered ${status}${code ? ` ${code}` : ""}${detail ? `: ${detail}` : ""}`);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * `start()` could not get a first heartbeat through. `status` is the HTTP
 * status when the server answered (401/403: the key; 4xx: the request),
 * undefined when it was unreachable.
 */
export class WorkerStartError extends Error {
  /** The HTTP status when the server answered. */
  readonly status: number | undefined;

  /** A failed start; `status` when the server answered. */
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.name = "WorkerStartError";
  }
}

/**
 * The server refused the worker's key after it had started (revoked, expired, or a dev server
 * restarted with another key): no retry will fix it, so the worker stops itself.
 */
export class KeyRefusedError extends Error {
  /** 401 (unknown key) or 403 (the key lacks scope worker). */
  readonly status: number;

  /** `url`'s server answered `cause` (an HttpError of 401 or 403). */
  constructor(url: string, cause: HttpError) {
    const why = cause.status === 401
      ? "no longer knows the key"
      : "says the key lacks scope worker";
    super(`edgeflow at ${url} ${why} (${cause.message}); the worker stopped`, { cause });
    this.name = "KeyRefusedError";
    this.status = cause.status;
  }
}

/** Whether `err` is the server refusing the key (401/403). */
export function isKeyRefused(err: unknown): err is HttpError {
  return err instanceof HttpError && (err.status === 401 || err.status === 403);
}

/**
 * Whether a request may be tried again: the network failed, the request
 * timed out, or the server was overloaded or broken (408, 429, 5xx). Other
 * 4xx answers will not change on a retry.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof HttpError)) return true;
  return err.status === 408 || err.status === 429 || err.status >= 500;
}

/** The `error` object of `POST /heartbeat/tasks/:task/fail`. */
export interface ReportedError {
  /** What went wrong, as the step's error will show it. */
  message: string;
  /** False: fail the step now instead of retrying. */
  retryable: boolean;
  /** The error's `name` (`TypeError`, `NonRetryableError`, …). */
  type?: string;
  /** A string `code` the error carries (`subflow_depth_exceeded`, `ECONNRESET`, …). */
  code?: string;
  /** The stack, cut to `MAX_STACK` characters. */
  stack?: string;
}

/** The server keeps messages up to 64 KiB; stacks beyond a few KiB are noise. */
const MAX_MESSAGE = 65_536;
const MAX_STACK = 4_096;

/** Turns anything a handler threw into the error it reports. */
export function toReportedError(err: unknown): ReportedError {
  if (err instanceof Error) {
    const retryable = (err as { retryable?: unknown }).retryable !== false;
    const code = (err as { code?: unknown }).code;
    return {
      message: (err.message || err.name).slice(0, MAX_MESSAGE),
      retryable,
      type: err.name,
      ...(typeof code === "string" ? { code } : {}),
      ...(err.stack ? { stack: err.stack.slice(0, MAX_STACK) } : {}),
    };
  }
  const retryable = typeof err !== "object" || err === null ||
    (err as { retryable?: unknown }).retryable !== false;
  const message = typeof err === "string" ? err : safeString(err);
  return { message: message.slice(0, MAX_MESSAGE), retryable };
}

function safeString(value: unknown): string {
  try {
    return typeof value === "object" ? JSON.stringify(value) ?? String(value) : String(value);
  } catch {
    return String(value);
  }
}

/**
 * Whether a failed first heartbeat (try `attempt` of `attempts`) ends
 * `start()`: the error to throw, or null to try again. A rejected key or
 * request will not fix itself, so only transient failures are retried.
 */
export function startFailure(
  url: string,
  err: unknown,
  attempt: number,
  attempts: number,
): WorkerStartError | null {
  if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
    const why = err.status === 401 ? "does not know the key" : "says the key lacks scope worker";
    return new WorkerStartError(`edgeflow at ${url} ${why} (${err.message})`, err.status, {
      cause: err,
    });
  }
  if (!isTransient(err)) {
    const status = (err as HttpError).status;
    return new WorkerStartError(
      `edgeflow at ${url} refused the heartbeat (${String(err)})`,
      status,
      {
        cause: err,
      },
    );
  }
  if (attempt < attempts) return null;
  const status = err instanceof HttpError ? err.status : undefined;
  const what = status === undefined ? "unreachable" : "failing";
  return new WorkerStartError(
    `edgeflow at ${url} is ${what} after ${attempt} attempts: ${String(err)}`,
    status,
    { cause: err },
  );
}
