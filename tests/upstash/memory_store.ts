/**
 * In-memory RateLimiter and DuplicateGuard with the same fixed-window rules as
 * the Redis ones: the stand-in "secondary" in fallback tests, and a reference
 * for the Postgres implementation's behaviour. Test-only: state dies with the
 * isolate, which is exactly what production must not do.
 */
import type { DuplicateGuard, RateLimiter, RateLimitResult } from "../../shared/ratelimit/types.ts";
import { assertLimitArgs, assertPositiveSeconds } from "../../shared/ratelimit/types.ts";

/** Fixed-window counter in a Map; `calls` counts how often it was asked. */
export class MemoryRateLimiter implements RateLimiter {
  calls = 0;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Count one request under `key`. */
  limit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    // Through a promise so that bad arguments reject, as a real store's would.
    return Promise.resolve().then(() => this.#count(key, limit, windowSeconds));
  }

  #count(key: string, limit: number, windowSeconds: number): RateLimitResult {
    assertLimitArgs(limit, windowSeconds);
    this.calls++;
    const now = this.now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + Math.ceil(windowSeconds * 1000) };
      this.#windows.set(key, window);
    }
    window.count++;
    if (window.count <= limit) {
      return { ok: true, remaining: limit - window.count, retryAfterSeconds: 0 };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
    return { ok: false, remaining: 0, retryAfterSeconds };
  }
}

/** Key → expiry in a Map; `calls` counts how often it was asked. */
export class MemoryDuplicateGuard implements DuplicateGuard {
  calls = 0;
  readonly #expiry = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True for the first sighting of `key` within `ttlSeconds`. */
  firstSeen(key: string, ttlSeconds: number): Promise<boolean> {
    return Promise.resolve().then(() => this.#record(key, ttlSeconds));
  }

  #record(key: string, ttlSeconds: number): boolean {
    assertPositiveSeconds("ttlSeconds", ttlSeconds);
    this.calls++;
    const now = this.now();
    const expiresAt = this.#expiry.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#expiry.set(key, now + Math.ceil(ttlSeconds * 1000));
    return true;
  }
}
