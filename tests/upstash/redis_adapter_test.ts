/**
 * The real `@upstash/redis` client against the REST adapter against the real
 * Redis: proves the adapter is faithful enough that the limiter tests mean
 * something. Every test uses its own random key prefix and deletes its keys.
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { startUpstashRedisAdapter } from "../support/upstash_redis_adapter.ts";

function client(url: string, token: string, base64 = true): Redis {
  return new Redis({
    url,
    token,
    enableTelemetry: false,
    retry: false,
    responseEncoding: base64 ? "base64" : false,
  });
}

const prefix = () => `test:${crypto.randomUUID()}:`;

for (const base64 of [true, false]) {
  Deno.test(`adapter serves strings, counters and expiry (base64 ${base64})`, async () => {
    await using adapter = await startUpstashRedisAdapter();
    const redis = client(adapter.url, adapter.token, base64);
    const p = prefix();
    try {
      assert.equal(await redis.set(`${p}s`, "héllo wörld ✓"), "OK");
      assert.equal(await redis.get(`${p}s`), "héllo wörld ✓");
      assert.equal(await redis.set(`${p}s`, "other", { nx: true }), null);
      assert.equal(await redis.set(`${p}ex`, "v", { ex: 100 }), "OK");
      const ttl = await redis.ttl(`${p}ex`);
      assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
      await redis.set(`${p}px`, "v", { px: 50_000 });
      const pttl = await redis.pttl(`${p}px`);
      assert.ok(pttl > 40_000 && pttl <= 50_000, `pttl ${pttl}`);
      assert.equal(await redis.incr(`${p}n`), 1);
      assert.equal(await redis.incr(`${p}n`), 2);
      assert.equal(await redis.ttl(`${p}n`), -1);
      assert.equal(await redis.expire(`${p}n`, 30), 1);
      assert.equal(await redis.pexpire(`${p}n`, 20_000), 1);
      assert.ok((await redis.pttl(`${p}n`)) <= 20_000);
      assert.deepEqual(await redis.get(`${p}missing`), null);
      await redis.set(`${p}json`, { a: [1, "two"] });
      assert.deepEqual(await redis.get(`${p}json`), { a: [1, "two"] });
    } finally {
      await redis.del(`${p}s`, `${p}ex`, `${p}px`, `${p}n`, `${p}json`);
    }
    assert.equal(await redis.exists(`${p}s`, `${p}n`), 0);
  });
}

Deno.test("adapter runs scripts through EVALSHA with the EVAL fallback", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = client(adapter.url, adapter.token);
  const p = prefix();
  // A fresh script body so its SHA is unknown to Redis: the first exec must
  // get NOSCRIPT back and retry with EVAL, exactly as against Upstash.
  const script = redis.createScript<[number, string]>(
    `-- ${p}\nreturn {redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[2]}`,
  );
  try {
    const before = adapter.requests;
    assert.deepEqual(await script.exec([`${p}k`], ["5", "tag"]), [5, "tag"]);
    assert.equal(adapter.requests - before, 2, "EVALSHA refused with NOSCRIPT, then EVAL");
    assert.deepEqual(await script.evalsha([`${p}k`], ["1", "tag"]), [6, "tag"]);
    assert.deepEqual(await redis.eval("return ARGV[1]", [], ["plain"]), "plain");
  } finally {
    await redis.del(`${p}k`);
  }
});

Deno.test("adapter serves sorted sets, pipelines and transactions", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = client(adapter.url, adapter.token);
  const p = prefix();
  try {
    await redis.zadd(`${p}z`, { score: 1, member: "a" }, { score: 2, member: "b" });
    assert.equal(await redis.zremrangebyscore(`${p}z`, 0, 1), 1);
    assert.equal(await redis.zcard(`${p}z`), 1);

    const pipe = redis.pipeline();
    pipe.incr(`${p}c`).incr(`${p}c`).get(`${p}c`);
    assert.deepEqual(await pipe.exec(), [1, 2, 2]);

    const tx = redis.multi();
    tx.set(`${p}t`, "x").pexpire(`${p}t`, 10_000).get(`${p}t`);
    assert.deepEqual(await tx.exec(), ["OK", 1, "x"]);
  } finally {
    await redis.del(`${p}z`, `${p}c`, `${p}t`);
  }
});

Deno.test("adapter reports Redis errors and refuses a wrong token", async () => {
  await using adapter = await startUpstashRedisAdapter();
  const redis = client(adapter.url, adapter.token);
  const p = prefix();
  try {
    await redis.set(`${p}s`, "text");
    await assert.rejects(() => redis.incr(`${p}s`), /not an integer/);
    const pipe = redis.pipeline();
    pipe.incr(`${p}s`).get(`${p}s`);
    await assert.rejects(() => pipe.exec(), /not an integer/);
  } finally {
    await redis.del(`${p}s`);
  }
  const intruder = client(adapter.url, "wrong-token");
  await assert.rejects(() => intruder.get(`${p}s`), /Unauthorized/);
});
