/**
 * Rate limiting and duplicate suppression on Upstash Redis (REST), used when
 * `UPSTASH_REDIS_REST_URL` is set. One HTTP round trip per question.
 *
 * Why a fixed window and not a sliding one: the limiter guards the trigger
 * path against floods, it does not meter a paid quota, so the worst case of a
 * fixed window (up to 2×limit across a window boundary) is acceptable, while
 * its costs are the lowest: one key and O(1) memory per caller (a sliding log
 * keeps one sorted-set member per request), no client clock (the window is the
 * key's TTL on the Redis server, so skewed edge isolates agree), and the same
 * rule fits one upsert in the Postgres fallback, so the verdicts do not change in
 * character when Redis goes away.
 */
import { Redis } from "@upstash/redis";
import {
  assertLimitArgs,
  assertPositiveSeconds,
  type DuplicateGuard,
  type RateLimiter,
  type RateLimitResult,
} from "./types.ts";

/** Namespace of rate-limit counters, so edgeflow can share a database with other tenants. */
export const RATE_LIMIT_PREFIX = "edgeflow:rl:";
/** Namespace of duplicate-suppression keys. */
export const DUPLICATE_PREFIX = "edgeflow:dup:";

// INCR and set the TTL in one atomic step. A Lua script rather than
// INCR + PEXPIRE NX in MULTI: it also returns the remaining TTL in the same
// round trip, runs on any Redis version (NX needs 7.0), and heals a counter
// that lost its TTL (ttl < 0) instead of letting it block its caller forever.
const FIXED_WINDOW_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

const toMs = (seconds: number) => Math.max(1, Math.ceil(seconds * 1000));

/** Fixed-window {@link RateLimiter} on Redis; keys `edgeflow:rl:<key>`. */
export class RedisRateLimiter implements RateLimiter {
  readonly #script;

  constructor(redis: Redis) {
    // EVALSHA first, EVAL once when Redis answers NOSCRIPT (the SDK's Script does both).
    this.#script = redis.createScript<[number, number]>(FIXED_WINDOW_SCRIPT);
  }

  /** Count one request; see {@link RateLimiter.limit}. */
  async limit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    assertLimitArgs(limit, windowSeconds);
    const windowMs = toMs(windowSeconds);
    const [count, ttlMs] = await this.#script.exec([RATE_LIMIT_PREFIX + key], [String(windowMs)]);
    if (count <= limit) return { ok: true, remaining: limit - count, retryAfterSeconds: 0 };
    return { ok: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }
}

/** {@link DuplicateGuard} on Redis: `SET edgeflow:dup:<key> 1 NX PX ttl`. */
export class RedisDuplicateGuard implements DuplicateGuard {
  constructor(private readonly redis: Redis) {}

  /** True for the first sighting of `key` within `ttlSeconds`. */
  async firstSeen(key: string, ttlSeconds: number): Promise<boolean> {
    assertPositiveSeconds("ttlSeconds", ttlSeconds);
    const reply = await this.redis.set(DUPLICATE_PREFIX + key, 1, {
      nx: true,
      px: toMs(ttlSeconds),
    });
    return reply === "OK";
  }
}

/** Options of {@link createUpstashRedis}. */
export interface UpstashRedisOptions {
  url: string;
  token: string;
  /**
   * Abort each request after this many ms (default 200). The fallback wrapper
   * bounds the wait anyway; this also cancels the abandoned request.
   */
  timeoutMs?: number;
}

/**
 * An `@upstash/redis` client tuned for a fallback setup: no retries (the SDK
 * default retries 5 times with backoff, seconds we would rather spend asking
 * Postgres), a per-request timeout, no telemetry. It holds no connection, so
 * making one per request is cheap.
 */
export function createUpstashRedis(options: UpstashRedisOptions): Redis {
  const timeoutMs = options.timeoutMs ?? 200;
  return new Redis({
    url: options.url,
    token: options.token,
    retry: { retries: 0 },
    // A function, not one signal: a fresh deadline per request, and the SDK
    // then throws on abort (with a plain signal it returns "Aborted" as data).
    signal: () => AbortSignal.timeout(timeoutMs),
    enableTelemetry: false,
    // Each call is independent; the sync token only costs a header.
    readYourWrites: false,
  });
}

/**
 * The Redis client when `UPSTASH_REDIS_REST_URL` (and its token) is set,
 * otherwise null: the integration is off and Postgres answers alone.
 */
export function upstashRedisFromEnv(
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number } = {},
): Redis | null {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) return null;
  return createUpstashRedis({ url, token, timeoutMs: options.timeoutMs });
}
