/**
 * Trigger rate limits: 429 with Retry-After past a deployment's or an API
 * key's rate; Upstash Redis answers when configured (the real client, the real
 * Redis, through the REST adapter), Postgres when it is not or is down.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { startUpstashRedisAdapter } from "../support/upstash_redis_adapter.ts";
import { configFromEnv } from "../../shared/app/deps.ts";
import type { AppConfig } from "../../shared/app/deps.ts";
import type { TestDatabase } from "../support/db.ts";
import { deploy, registerSteps } from "./helpers.ts";

const unique = () => crypto.randomUUID().slice(0, 8);

/** Two deployments of one flow, names unique to this test (Redis outlives it). */
async function setup(db: TestDatabase, config: Partial<AppConfig>) {
  const app = testApp(db, config);
  const [a, b] = [`rl-a-${unique()}`, `rl-b-${unique()}`];
  await registerSteps(app.call, "limited", [{ slug: "s" }]);
  await deploy(app.call, { name: a, flow: "limited" });
  await deploy(app.call, { name: b, flow: "limited" });
  return { ...app, a, b };
}

async function windows(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<
    { key: string }
  >`select key from edgeflow.rate_limit_windows order by key`;
  return rows.map((r) => r.key);
}

async function limitsDeployments(db: TestDatabase, config: Partial<AppConfig>) {
  const { call, a, b } = await setup(db, {
    triggerRateLimit: { limit: 2, windowSeconds: 60 },
    ...config,
  });
  const first = await call("POST", `/trigger/${a}`, {}, { headers: { "Idempotency-Key": "k1" } });
  assert.equal(first.status, 201);
  assert.equal((await call("POST", `/trigger/${a}`, {})).status, 201);
  const refused = await call("POST", `/trigger/${a}`, {});
  assert.equal(refused.status, 429);
  assert.equal(refused.body.code, "rate_limited");
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.equal((await call("POST", `/trigger/${b}`, {})).status, 201, "another deployment");

  // A retry of the accepted request gets its run back instead of a 429.
  const retry = await call("POST", `/trigger/${a}`, {}, { headers: { "Idempotency-Key": "k1" } });
  assert.equal(retry.status, 200);
  assert.equal(retry.body.run_id, first.body.run_id);
  // A new key is a new run: refused.
  const fresh = await call("POST", `/trigger/${a}`, {}, { headers: { "Idempotency-Key": "k2" } });
  assert.equal(fresh.status, 429);
  // ...and repeating the refused one does not slip past the limit either.
  const again = await call("POST", `/trigger/${a}`, {}, { headers: { "Idempotency-Key": "k2" } });
  assert.equal(again.status, 429);
  const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
  assert.equal(n, 3, "2 runs of a, 1 of b");
  return { a, b };
}

dbTest(
  "without Redis, Postgres enforces the per-deployment rate (429 + Retry-After)",
  async (db) => {
    const { a } = await limitsDeployments(db, {});
    assert.ok((await windows(db)).some((k) => k.endsWith(`trigger:deployment:${a}`)));
  },
);

dbTest("with Upstash Redis, Redis enforces it and Postgres holds no counter", async (db) => {
  await using redis = await startUpstashRedisAdapter();
  await limitsDeployments(db, { redis: { url: redis.url, token: redis.token } });
  assert.deepEqual(await windows(db), []);
  assert.ok(redis.requests >= 7, `Redis answered (${redis.requests} requests)`);
});

dbTest("with Redis unreachable, Postgres answers and nothing fails", async (db) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const { a } = await limitsDeployments(db, {
    redis: { url: `http://127.0.0.1:${port}`, token: "t" },
  });
  assert.ok((await windows(db)).some((k) => k.endsWith(`trigger:deployment:${a}`)));
});

dbTest("the per-API-key rate counts every trigger request of the key", async (db) => {
  const { call, a, b } = await setup(db, { triggerKeyRateLimit: { limit: 2, windowSeconds: 60 } });
  const key = await call("POST", "/deploy/keys", { name: "hook", scopes: ["trigger"] });
  assert.equal(key.status, 201);
  const as = { key: key.body.key as string };
  assert.equal((await call("POST", `/trigger/${a}`, {}, as)).status, 201);
  assert.equal((await call("POST", `/trigger/${b}`, {}, as)).status, 201);
  const refused = await call("POST", `/trigger/flows/limited`, {}, as);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.equal(
    (await call("POST", `/trigger/${a}`, {})).status,
    201,
    "the admin key has its own budget",
  );
});

dbTest("ad hoc runs are limited per flow", async (db) => {
  const { call } = await setup(db, { triggerRateLimit: { limit: 1, windowSeconds: 60 } });
  assert.equal((await call("POST", "/trigger/flows/limited", {})).status, 201);
  assert.equal((await call("POST", "/trigger/flows/limited", {})).status, 429);
});

Deno.test("trigger rate settings come from the environment, and a typo stops the start", () => {
  const config = configFromEnv({
    EDGEFLOW_TRIGGER_RATE_LIMIT: "100/60",
    EDGEFLOW_TRIGGER_KEY_RATE_LIMIT: " 5 / 0.5 ",
    UPSTASH_REDIS_REST_URL: "https://example.upstash.io",
    UPSTASH_REDIS_REST_TOKEN: "secret",
  });
  assert.deepEqual(config.triggerRateLimit, { limit: 100, windowSeconds: 60 });
  assert.deepEqual(config.triggerKeyRateLimit, { limit: 5, windowSeconds: 0.5 });
  assert.deepEqual(config.redis, { url: "https://example.upstash.io", token: "secret" });
  const off = configFromEnv({ UPSTASH_REDIS_REST_URL: "https://example.upstash.io" });
  assert.equal(off.redis, undefined, "a URL without its token is no Redis");
  assert.equal(off.triggerRateLimit, undefined);
  assert.throws(() => configFromEnv({ EDGEFLOW_TRIGGER_RATE_LIMIT: "100 per minute" }), /100\/60/);
});
