/**
 * Ask the fast store (Redis) first and the durable one (Postgres) when the
 * fast one fails or dawdles. Redis is an optimisation here, never a
 * dependency: the product promises that nothing is lost when Redis is down,
 * so a primary error or timeout never reaches the caller.
 *
 * Two guards keep an outage cheap:
 * - a timeout (default 200 ms): a trigger's p99 target is 20 ms, so waiting
 *   for a TCP timeout against a dead Redis is not an option;
 * - a cooldown (default 10 s): after a failure the primary is skipped for a
 *   while, so every request during an outage does not pay the timeout again.
 *   It lives in the wrapper, so keep one wrapper per isolate, not per request.
 *
 * During an outage the two stores diverge (a key counted in Postgres is not
 * in Redis); that only loosens limits briefly. The duplicate guard is a first
 * line; run idempotency stays enforced by Postgres.
 */
import {
  assertLimitArgs,
  assertPositiveSeconds,
  type DuplicateGuard,
  type RateLimiter,
  type RateLimitResult,
} from "./types.ts";

/** Options of {@link withFallback}; all optional. */
export interface FallbackOptions {
  /** Give up on the primary after this many ms (default 200). */
  timeoutMs?: number;
  /** After a primary failure, go straight to the secondary for this many ms (default 10 000; 0 = never skip). */
  cooldownMs?: number;
  /** Clock in ms (default `Date.now`); injected so tests need not wait. */
  now?: () => number;
  /** Told about every primary failure (log it; must not throw). */
  onPrimaryError?: (error: unknown) => void;
}

/** The primary took longer than `timeoutMs`. */
export class PrimaryTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`primary store did not answer within ${timeoutMs} ms`);
    this.name = "PrimaryTimeoutError";
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PrimaryTimeoutError(timeoutMs)), timeoutMs);
  });
  // The loser of the race may still reject later: keep that from surfacing
  // as an unhandled rejection.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function fallbackRunner(options: FallbackOptions) {
  const timeoutMs = options.timeoutMs ?? 200;
  const cooldownMs = options.cooldownMs ?? 10_000;
  const now = options.now ?? Date.now;
  let skipPrimaryUntil = -Infinity;

  return async function run<T>(primary: () => Promise<T>, secondary: () => Promise<T>) {
    if (now() < skipPrimaryUntil) return await secondary();
    try {
      // Promise.resolve().then: a primary that throws synchronously is handled alike.
      return await withTimeout(Promise.resolve().then(primary), timeoutMs);
    } catch (error) {
      if (cooldownMs > 0) skipPrimaryUntil = now() + cooldownMs;
      try {
        options.onPrimaryError?.(error);
      } catch {
        // A failing logger must not turn a handled outage into an error.
      }
      // The secondary's own errors do propagate: with Postgres down too the
      // request cannot succeed, and the caller's error handler says so (503).
      return await secondary();
    }
  };
}

/**
 * Wrap a primary limiter (Redis) with a secondary (Postgres): the primary
 * answers unless it throws or exceeds the timeout, then the secondary does.
 */
export function withFallback(
  primary: RateLimiter,
  secondary: RateLimiter,
  options?: FallbackOptions,
): RateLimiter;
/** The same for a {@link DuplicateGuard}. */
export function withFallback(
  primary: DuplicateGuard,
  secondary: DuplicateGuard,
  options?: FallbackOptions,
): DuplicateGuard;
export function withFallback(
  primary: Partial<RateLimiter & DuplicateGuard>,
  secondary: Partial<RateLimiter & DuplicateGuard>,
  options: FallbackOptions = {},
): RateLimiter & DuplicateGuard {
  const run = fallbackRunner(options);
  // Arguments are checked here, before either store: a caller's mistake is
  // not a primary outage and must not start the cooldown.
  return {
    async limit(key, limit, windowSeconds): Promise<RateLimitResult> {
      assertLimitArgs(limit, windowSeconds);
      return await run(
        () => primary.limit!(key, limit, windowSeconds),
        () => secondary.limit!(key, limit, windowSeconds),
      );
    },
    async firstSeen(key, ttlSeconds): Promise<boolean> {
      assertPositiveSeconds("ttlSeconds", ttlSeconds);
      return await run(
        () => primary.firstSeen!(key, ttlSeconds),
        () => secondary.firstSeen!(key, ttlSeconds),
      );
    },
  };
}
