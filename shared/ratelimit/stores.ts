/**
 * Which store answers the trigger path's two questions: Upstash Redis with
 * Postgres behind it when Redis is configured, Postgres alone otherwise.
 *
 * `withFallback` keeps its cooldown inside one wrapper, but the Postgres side
 * needs the request's own `Sql` (a client per request on Workers), so a
 * wrapper is made per request and the cooldown lives here, once per isolate:
 * after a Redis failure, requests go straight to Postgres for `cooldownMs`.
 */
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../http/logger.ts";
import { withFallback } from "./fallback.ts";
import { PostgresDuplicateGuard, PostgresRateLimiter } from "./postgres.ts";
import { createUpstashRedis, RedisDuplicateGuard, RedisRateLimiter } from "./redis.ts";
import type { DuplicateGuard, RateLimiter } from "./types.ts";
export { parseRateSpec, type RateSpec } from "./rate_spec.ts";

/** The two stores for one request. */
export interface TriggerStores {
  limiter: RateLimiter;
  guard: DuplicateGuard;
}

/** Options of {@link triggerStores}. */
export interface TriggerStoresOptions {
  /** Upstash Redis REST endpoint; absent: Postgres answers alone. */
  redis?: { url: string; token: string };
  log: Logger;
  /** Give up on Redis after this many ms (default 200). */
  timeoutMs?: number;
  /** Skip Redis for this long after it failed (default 10 000 ms). */
  cooldownMs?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/** Make the per-request store picker; call once per isolate (it holds the cooldown). */
export function triggerStores(options: TriggerStoresOptions): (sql: Sql) => TriggerStores {
  const postgres = (sql: Sql) => ({
    limiter: new PostgresRateLimiter(sql),
    guard: new PostgresDuplicateGuard(sql),
  });
  if (!options.redis) return postgres;

  // The client holds no connection (REST), so one per isolate costs nothing.
  const redis = createUpstashRedis({ ...options.redis, timeoutMs: options.timeoutMs });
  const redisLimiter = new RedisRateLimiter(redis);
  const redisGuard = new RedisDuplicateGuard(redis);
  const now = options.now ?? Date.now;
  const cooldownMs = options.cooldownMs ?? 10_000;
  let skipRedisUntil = -Infinity;
  const fallback = {
    timeoutMs: options.timeoutMs,
    cooldownMs: 0,
    onPrimaryError(error: unknown) {
      skipRedisUntil = now() + cooldownMs;
      options.log("warn", "Upstash Redis unavailable: Postgres answers rate limits", {
        error: error instanceof Error ? error.message : String(error),
        cooldown_ms: cooldownMs,
      });
    },
  };
  return (sql) => {
    const pg = postgres(sql);
    if (now() < skipRedisUntil) return pg;
    return {
      limiter: withFallback(redisLimiter, pg.limiter, fallback),
      guard: withFallback(redisGuard, pg.guard, fallback),
    };
  };
}
