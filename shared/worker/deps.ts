/**
 * The seams between the worker SDK and its runtime: time and logging.
 *
 * The SDK runs on Deno, Node, Bun and edge runtimes, so it reaches the
 * outside world only through Web-standard globals (`fetch`, `setTimeout`,
 * `console`, `crypto.randomUUID`) and lets callers replace each of them. A
 * test or an embedding (a Durable Object alarm, a fake clock) passes its own.
 */

/** Timer handle: a number on Deno and browsers, an object on Node — opaque here. */
export type TimerHandle = unknown;

/** Wall clock and timers. */
export interface Clock {
  /** Milliseconds since the epoch (like `Date.now()`). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer made by `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The default clock: `Date.now` and the global timers. Wrapped in arrows so
 * that a runtime (or a test) replacing the globals later is still honoured.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Severity of one log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Writes one structured log line. The same shape as the server's
 * `shared/http/logger.ts`, so one sink serves both.
 */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** The default logger: one JSON line per call on the console (every runtime has one). */
export const consoleLogger: Logger = (level, message, fields) => {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

/** A logger that drops everything. */
export const silentLogger: Logger = () => {};

/**
 * Waits `ms` on `clock`; resolves early (never rejects) when `signal` aborts,
 * so retry loops can check the signal and leave without a dangling timer.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(handle);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const handle = clock.setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
