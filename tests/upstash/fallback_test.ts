/**
 * `withFallback`: when Redis is unreachable, hangs, or just failed, the
 * secondary store answers, quickly, and the caller never sees the outage.
 */
import assert from "node:assert/strict";
import { PrimaryTimeoutError, withFallback } from "../../shared/ratelimit/fallback.ts";
import {
  createUpstashRedis,
  RedisDuplicateGuard,
  RedisRateLimiter,
} from "../../shared/ratelimit/redis.ts";
import type { RateLimiter } from "../../shared/ratelimit/types.ts";
import { MemoryDuplicateGuard, MemoryRateLimiter } from "./memory_store.ts";

/** A loopback port that nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function failingLimiter(): RateLimiter & { calls: number } {
  return {
    calls: 0,
    limit() {
      this.calls++;
      return Promise.reject(new Error("redis down"));
    },
  };
}

Deno.test("fallback answers from the secondary when Redis is unreachable, without delay", async () => {
  const redis = createUpstashRedis({ url: `http://127.0.0.1:${closedPort()}`, token: "t" });
  const errors: unknown[] = [];
  const onPrimaryError = (error: unknown) => errors.push(error);
  const secondary = new MemoryRateLimiter();
  const limiter = withFallback(new RedisRateLimiter(redis), secondary, { onPrimaryError });
  const guard = withFallback(new RedisDuplicateGuard(redis), new MemoryDuplicateGuard(), {
    onPrimaryError,
  });

  const started = performance.now();
  assert.deepEqual(await limiter.limit("k", 1, 60), {
    ok: true,
    remaining: 0,
    retryAfterSeconds: 0,
  });
  assert.equal(await guard.firstSeen("d", 60), true);
  const elapsed = performance.now() - started;

  // Bounded, not timed: a hang would take the 10 s default client timeout.
  assert.ok(elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
  assert.equal(errors.length, 2, "the primary was tried and its failure reported");
  assert.equal(secondary.calls, 1);
  // From now on (cooldown) the secondary answers alone, with its own state.
  assert.equal((await limiter.limit("k", 1, 60)).ok, false);
  assert.equal(await guard.firstSeen("d", 60), false);
  assert.equal(errors.length, 2);
});

Deno.test("fallback gives up on a Redis that accepts but never answers", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const silent = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await released;
    return new Response("{}");
  });
  try {
    const url = `http://127.0.0.1:${silent.addr.port}`;
    const redis = createUpstashRedis({ url, token: "t", timeoutMs: 100 });
    const errors: unknown[] = [];
    const limiter = withFallback(new RedisRateLimiter(redis), new MemoryRateLimiter(), {
      timeoutMs: 300,
      onPrimaryError: (error) => errors.push(error),
    });
    const started = performance.now();
    assert.equal((await limiter.limit("k", 5, 60)).ok, true);
    const elapsed = performance.now() - started;
    // The client's own 100 ms deadline aborts the request before the 300 ms race.
    assert.ok(elapsed >= 90 && elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(errors.length, 1);
    assert.ok(!(errors[0] instanceof PrimaryTimeoutError), "aborted by the client deadline");
  } finally {
    release();
    await silent.shutdown();
  }
});

Deno.test("fallback bounds a primary that never settles by its own timeout", async () => {
  const hanging: RateLimiter = { limit: () => new Promise(() => {}) };
  const errors: unknown[] = [];
  const limiter = withFallback(hanging, new MemoryRateLimiter(), {
    timeoutMs: 50,
    onPrimaryError: (error) => errors.push(error),
  });
  const started = performance.now();
  assert.equal((await limiter.limit("k", 1, 60)).ok, true);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 45 && elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
  assert.ok(errors[0] instanceof PrimaryTimeoutError);
});

Deno.test("fallback skips the primary during the cooldown, then tries it again", async () => {
  let clock = 0;
  const primary = failingLimiter();
  const secondary = new MemoryRateLimiter(() => clock);
  const limiter = withFallback(primary, secondary, { cooldownMs: 10_000, now: () => clock });

  await limiter.limit("k", 10, 60);
  assert.equal(primary.calls, 1);
  clock = 9_999;
  await limiter.limit("k", 10, 60);
  assert.equal(primary.calls, 1, "skipped while cooling down");
  clock = 10_001;
  await limiter.limit("k", 10, 60);
  assert.equal(primary.calls, 2, "tried again after the cooldown");
  assert.equal(secondary.calls, 3);
});

Deno.test("fallback prefers a healthy primary and still surfaces the secondary's failure", async () => {
  const primary = new MemoryRateLimiter();
  const secondary = new MemoryRateLimiter();
  assert.equal((await withFallback(primary, secondary).limit("k", 1, 60)).ok, true);
  assert.deepEqual([primary.calls, secondary.calls], [1, 0]);

  const broken: RateLimiter = { limit: () => Promise.reject(new Error("postgres down")) };
  const both = withFallback(failingLimiter(), broken, { onPrimaryError: () => {} });
  await assert.rejects(() => both.limit("k", 1, 60), /postgres down/);
});

Deno.test("fallback rejects bad arguments without blaming the primary", async () => {
  const primary = failingLimiter();
  const errors: unknown[] = [];
  const limiter = withFallback(primary, new MemoryRateLimiter(), {
    onPrimaryError: (error) => errors.push(error),
  });
  await assert.rejects(() => limiter.limit("k", -1, 60), RangeError);
  assert.equal(primary.calls, 0);
  assert.equal(errors.length, 0);
});
