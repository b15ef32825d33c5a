/**
 * The two questions the trigger path asks before it touches Postgres: "is this
 * caller over its rate?" and "have we seen this delivery already?". Redis
 * answers them at edge speed when configured; Postgres answers the same
 * interfaces otherwise, and `withFallback` switches between them, so callers
 * never know which one did.
 */

/** The verdict on one request against a limit. */
export interface RateLimitResult {
  /** True when the request is within the limit and may proceed. */
  ok: boolean;
  /** Requests still allowed in the current window (0 when denied). */
  remaining: number;
  /** Whole seconds until a denied caller may try again (for `Retry-After`); 0 when ok. */
  retryAfterSeconds: number;
}

/** Counts requests per key and refuses those past `limit` per window. */
export interface RateLimiter {
  /**
   * Count one request under `key` and say whether it is allowed: at most
   * `limit` requests per `windowSeconds` (fractions allowed, e.g. 0.5).
   */
  limit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
}

/** Remembers keys for a while, to drop repeated deliveries of the same thing. */
export interface DuplicateGuard {
  /**
   * Record `key` for `ttlSeconds` and answer true if it was not already
   * recorded (the first sighting), false for a duplicate. Atomic: of two
   * concurrent calls with one key, exactly one gets true.
   */
  firstSeen(key: string, ttlSeconds: number): Promise<boolean>;
}

/** Reject nonsense arguments the same way in every implementation. */
export function assertLimitArgs(limit: number, windowSeconds: number): void {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  assertPositiveSeconds("windowSeconds", windowSeconds);
}

/** `seconds` must be a finite number above zero. */
export function assertPositiveSeconds(name: string, seconds: number): void {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`${name} must be a positive number of seconds, got ${seconds}`);
  }
}
