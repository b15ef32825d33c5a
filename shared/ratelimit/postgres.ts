/**
 * Rate limiting and duplicate suppression in Postgres
 * (migrations/0019_rate_limits.sql): the store that answers when Redis is not
 * configured, and the fallback when it is not reachable. Postgres stays the
 * source of truth either way; these are one upsert each.
 *
 * The same fixed-window rule as `RedisRateLimiter`, so a caller cannot tell
 * which store answered, except by latency.
 */
import type { Sql } from "../db/sql.ts";
import {
  assertLimitArgs,
  assertPositiveSeconds,
  type DuplicateGuard,
  type RateLimiter,
  type RateLimitResult,
} from "./types.ts";

/** Namespace of the keys, as in Redis, so both stores read alike in a debugger. */
export const PG_RATE_LIMIT_PREFIX = "edgeflow:rl:";
/** Namespace of duplicate-suppression keys. */
export const PG_DUPLICATE_PREFIX = "edgeflow:dup:";

const toMs = (seconds: number) => Math.max(1, Math.ceil(seconds * 1000));

/** Fixed-window {@link RateLimiter} on the `edgeflow.rate_limit_windows` table. */
export class PostgresRateLimiter implements RateLimiter {
  constructor(private readonly sql: Sql) {}

  /** Count one request; see {@link RateLimiter.limit}. */
  async limit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    assertLimitArgs(limit, windowSeconds);
    const [row] = await this.sql<{ r: { count: number; ttl_ms: number } }>`
      select edgeflow.rate_limit_hit(${PG_RATE_LIMIT_PREFIX + key},
                                     ${toMs(windowSeconds)}::int) as r`;
    const { count, ttl_ms } = row.r;
    if (count <= limit) return { ok: true, remaining: limit - count, retryAfterSeconds: 0 };
    return { ok: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(ttl_ms / 1000)) };
  }
}

/** {@link DuplicateGuard} on the `edgeflow.duplicate_keys` table. */
export class PostgresDuplicateGuard implements DuplicateGuard {
  constructor(private readonly sql: Sql) {}

  /** True for the first sighting of `key` within `ttlSeconds`. */
  async firstSeen(key: string, ttlSeconds: number): Promise<boolean> {
    assertPositiveSeconds("ttlSeconds", ttlSeconds);
    const [row] = await this.sql<{ first: boolean }>`
      select edgeflow.first_seen(${PG_DUPLICATE_PREFIX + key}, ${toMs(ttlSeconds)}::int) as first`;
    return row.first;
  }
}
