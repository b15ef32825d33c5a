/**
 * Trigger rate limiting and duplicate suppression: the Redis implementations
 * through the real `@upstash/redis` client and the REST adapter onto the real
 * Redis, and the fallback to a secondary store when Redis is gone or slow.
 */
import assert from "node:assert/strict";
import {
  createUpstashRedis,
  DUPLICATE_PREFIX,
  RATE_LIMIT_PREFIX,
  RedisDuplicateGuard,
  RedisRateLimiter,
  upstashRedisFromEnv,
} from "../../shared/ratelimit/redis.ts";
import { startUpstashRedisAdapter } from "../support/upstash_redis_adapter.ts";
import { MemoryDuplicateGuard, MemoryRateLimiter } from "./memory_store.ts";

const uniqueKey = () => `test-${crypto.randomUUID()}`;

Deno.test("redis limiter allows N requests then denies with a positive retryAfter", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = createUpstashRedis({ url: adapter.url, token: adapter.token });
  const limiter = new RedisRateLimiter(redis);
  const [key, other] = [uniqueKey(), uniqueKey()];
  try {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.limit(key, 3, 60));
    assert.deepEqual(results.slice(0, 3), [
      { ok: true, remaining: 2, retryAfterSeconds: 0 },
      { ok: true, remaining: 1, retryAfterSeconds: 0 },
      { ok: true, remaining: 0, retryAfterSeconds: 0 },
    ]);
    const denied = results[3];
    assert.equal(denied.ok, false);
    assert.equal(denied.remaining, 0);
    assert.ok(denied.retryAfterSeconds >= 1 && denied.retryAfterSeconds <= 60);
    // The counter lives under the namespaced key, with the window as its TTL.
    const ttl = await redis.pttl(RATE_LIMIT_PREFIX + key);
    assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`);
    assert.equal((await limiter.limit(other, 3, 60)).ok, true, "other keys unaffected");
  } finally {
    await redis.del(RATE_LIMIT_PREFIX + key, RATE_LIMIT_PREFIX + other);
  }
});

Deno.test("redis limiter opens a fresh window when the old one expires", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = createUpstashRedis({ url: adapter.url, token: adapter.token });
  const limiter = new RedisRateLimiter(redis);
  const key = uniqueKey();
  try {
    assert.equal((await limiter.limit(key, 1, 0.2)).ok, true);
    const denied = await limiter.limit(key, 1, 0.2);
    assert.deepEqual(denied, { ok: false, remaining: 0, retryAfterSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await limiter.limit(key, 1, 0.2)).ok, true);
  } finally {
    await redis.del(RATE_LIMIT_PREFIX + key);
  }
});

Deno.test("redis limiter admits exactly `limit` of many concurrent requests", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = createUpstashRedis({ url: adapter.url, token: adapter.token, timeoutMs: 5_000 });
  const limiter = new RedisRateLimiter(redis);
  const key = uniqueKey();
  try {
    const results = await Promise.all(
      Array.from({ length: 25 }, () => limiter.limit(key, 5, 60)),
    );
    assert.equal(results.filter((r) => r.ok).length, 5);
    assert.deepEqual(results.filter((r) => r.ok).map((r) => r.remaining).sort(), [0, 1, 2, 3, 4]);
  } finally {
    await redis.del(RATE_LIMIT_PREFIX + key);
  }
});

Deno.test("redis duplicate guard admits a key once until its ttl runs out", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = createUpstashRedis({ url: adapter.url, token: adapter.token, timeoutMs: 5_000 });
  const guard = new RedisDuplicateGuard(redis);
  const [key, other, racy] = [uniqueKey(), uniqueKey(), uniqueKey()];
  try {
    assert.equal(await guard.firstSeen(key, 0.2), true);
    assert.equal(await guard.firstSeen(key, 0.2), false);
    assert.equal(await guard.firstSeen(other, 0.2), true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(await guard.firstSeen(key, 0.2), true, "seen again after the ttl");

    const verdicts = await Promise.all(Array.from({ length: 10 }, () => guard.firstSeen(racy, 60)));
    assert.equal(verdicts.filter(Boolean).length, 1, "exactly one concurrent caller is first");
    const ttl = await redis.pttl(DUPLICATE_PREFIX + racy);
    assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`);
  } finally {
    await redis.del(...[key, other, racy].map((k) => DUPLICATE_PREFIX + k));
  }
});

Deno.test("limiters refuse nonsense limits and windows", async () => {
  const memory = new MemoryRateLimiter();
  await assert.rejects(() => memory.limit("k", -1, 60), RangeError);
  await assert.rejects(() => memory.limit("k", 1.5, 60), RangeError);
  await assert.rejects(() => memory.limit("k", 1, 0), RangeError);
  await assert.rejects(() => new MemoryDuplicateGuard().firstSeen("k", Number.NaN), RangeError);
});

Deno.test("redis client is configured only when url and token are both set", () => {
  assert.equal(upstashRedisFromEnv({}), null);
  assert.equal(upstashRedisFromEnv({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" }), null);
  const redis = upstashRedisFromEnv({
    UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
    UPSTASH_REDIS_REST_TOKEN: "t",
  });
  assert.ok(redis);
});
