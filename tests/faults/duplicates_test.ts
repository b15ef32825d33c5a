/**
 * Duplicates under real concurrency (real Postgres, separate connections,
 * HTTP): the same completion sent twice at once is accepted once; 50
 * triggers at once with one Idempotency-Key make one run.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { serveApp } from "./harness.ts";

dbTest(
  "the same completion sent twice concurrently: one 200, one 409, dependents enqueued once",
  async (db) => {
    const sql = postgresSql(db.url!, { max: 10 });
    const server = serveApp(sql);
    try {
      const { call } = server;
      await call("POST", "/register", {
        name: "twice",
        steps: [{ slug: "a" }, { slug: "b", depends_on: ["a"] }],
      });
      await call("POST", "/deploy", { name: "twice", flow: "twice" });
      const rounds = 20;
      for (let i = 0; i < rounds; i++) await call("POST", "/trigger/twice", {});
      const hb = await call("POST", "/heartbeat", {
        worker: "w",
        pool: "default",
        handlers: ["a"],
        capacity: rounds,
        running: [],
      });
      assert.equal(hb.body.tasks.length, rounds);
      const outcomes = await Promise.all(
        hb.body.tasks.map(async (t: { task: string; lease: string }) => {
          const send = (output: string) =>
            call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: t.lease, output });
          const [x, y] = await Promise.all([send("x"), send("y")]);
          return [x.status, y.status].sort().join(",");
        }),
      );
      assert.deepEqual(
        new Set(outcomes),
        new Set(["200,409"]),
        "exactly one of each pair accepted",
      );
      const [{ b }] = await db.sql<{ b: number }>`
      select count(*)::int as b from edgeflow.tasks where slug = 'b'`;
      assert.equal(b, rounds, "each run's next step was enqueued once");
    } finally {
      await server.close();
      await sql.end();
    }
  },
  { only: "postgres" },
);

dbTest("50 concurrent triggers with one Idempotency-Key make one run", async (db) => {
  const sql = postgresSql(db.url!, { max: 10 });
  const server = serveApp(sql);
  try {
    const { call } = server;
    await call("POST", "/register", { name: "once", steps: [{ slug: "s" }] });
    await call("POST", "/deploy", { name: "once", flow: "once" });
    const headers = { "Idempotency-Key": "delivery-42" };
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call("POST", "/trigger/once", { parameters: {} }, headers)),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 200).length, 49, statuses.join(","));
    assert.equal(new Set(answers.map((a) => a.body.run_id)).size, 1);
    const [{ runs, tasks }] = await db.sql<{ runs: number; tasks: number }>`
      select (select count(*)::int from edgeflow.runs) as runs,
             (select count(*)::int from edgeflow.tasks) as tasks`;
    assert.deepEqual({ runs, tasks }, { runs: 1, tasks: 1 });
  } finally {
    await server.close();
    await sql.end();
  }
}, { only: "postgres" });

dbTest("...and still one run with rate limiting through Upstash Redis in front", async (db) => {
  const { startUpstashRedisAdapter } = await import("../support/upstash_redis_adapter.ts");
  await using redis = await startUpstashRedisAdapter();
  const sql = postgresSql(db.url!, { max: 10 });
  const server = serveApp(sql, {
    redis: { url: redis.url, token: redis.token },
    triggerRateLimit: { limit: 1000, windowSeconds: 60 },
  });
  try {
    const { call } = server;
    const name = `once-${crypto.randomUUID().slice(0, 8)}`; // Redis outlives the test
    await call("POST", "/register", { name: "once", steps: [{ slug: "s" }] });
    await call("POST", "/deploy", { name, flow: "once" });
    const headers = { "Idempotency-Key": "delivery-42" };
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call("POST", `/trigger/${name}`, {}, headers)),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [...Array(49).fill(200), 201]);
    assert.equal(new Set(answers.map((a) => a.body.run_id)).size, 1);
    const [{ runs }] = await db.sql<
      { runs: number }
    >`select count(*)::int as runs from edgeflow.runs`;
    assert.equal(runs, 1);
  } finally {
    await server.close();
    await sql.end();
  }
}, { only: "postgres" });
