/**
 * Ticks racing each other (two app instances, each on its own database
 * connection on real Postgres) or repeated: exactly one run per fire time.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { tickSchedules } from "../../shared/scheduler/tick_schedules.ts";
import { Clock, clockApp, deploy, registerFlow, tick } from "./helpers.ts";

async function duplicates(sql: Sql): Promise<number> {
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from (
      select 1 from edgeflow.runs where idempotency_scope like 'schedule:%'
       group by idempotency_scope, scheduled_time having count(*) > 1) d`;
  return n;
}

async function scheduledRuns(sql: Sql): Promise<number> {
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.runs where idempotency_scope like 'schedule:%'`;
  return n;
}

dbTest(
  "two ticks racing on two connections create each scheduled run exactly once",
  async (db, kind) => {
    const clock = Clock.at("2026-11-23T08:00:00Z");
    // Postgres: a client of one connection per "instance". PGlite has one connection anyway.
    const clients = kind === "postgres"
      ? [postgresSql(db.url!, { max: 1 }), postgresSql(db.url!, { max: 1 })]
      : [db.sql, db.sql];
    try {
      const [a, b] = clients.map((sql) => clockApp(sql, clock).call);
      await registerFlow(a);
      const schedules = Array.from({ length: 40 }, (_, i) => ({
        cron: "* * * * *",
        catchup: "all",
        parameters: { i },
      }));
      for (const name of ["r1", "r2", "r3"]) await deploy(a, { name, schedules });

      let expected = 0;
      // Round 1: 10 minutes owed (catch-up all) plus the horizon; then ordinary minutes.
      for (
        const [at, perSchedule] of [["08:10:00", 11], ["08:11:00", 1], ["08:12:00", 1]] as const
      ) {
        clock.set(`2026-11-23T${at}Z`);
        const [ta, tb] = await Promise.all([tick(a), tick(b)]);
        expected += 120 * perSchedule;
        assert.equal(ta.created + tb.created, 120 * perSchedule, `created at ${at}`);
        assert.equal(ta.schedules + tb.schedules, 120, "each due schedule handled by one tick");
        assert.equal(await scheduledRuns(db.sql), expected);
        assert.equal(await duplicates(db.sql), 0);
      }
      // A retried tick (same clock) and a third racer owe nothing.
      const again = await Promise.all([tick(a), tick(b), tick(a)]);
      assert.deepEqual(again.map((t) => t.created), [0, 0, 0]);
      assert.equal(await scheduledRuns(db.sql), expected);
    } finally {
      if (kind === "postgres") await Promise.all(clients.map((c) => c.end()));
    }
  },
);

dbTest("a stale write (the guard's next_fire_at moved on) creates nothing", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:00Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const d = await deploy(call, { name: "g", schedules: [{ cron: "*/5 * * * *" }] });
  const id = d.schedules[0].id;
  const fire = (expected: string) =>
    db.sql<{ r: { skipped: boolean; created: number } }>`
      select edgeflow.fire_schedule(${id}::uuid, ${expected}::timestamptz,
        '["2026-11-23T08:05:00.000Z"]'::jsonb, '2026-11-23T08:10:00Z'::timestamptz) as r`;
  const [first] = await fire("2026-11-23T08:05:00.000Z");
  assert.deepEqual([first.r.skipped, first.r.created], [false, 1]);
  const [second] = await fire("2026-11-23T08:05:00.000Z");
  assert.deepEqual([second.r.skipped, second.r.created], [true, 0]);
  // Even a writer whose guard passes (say, after a manual reset) cannot duplicate a run.
  await db
    .sql`update edgeflow.schedules set next_fire_at = '2026-11-23T08:05:00Z' where id = ${id}::uuid`;
  const [third] = await fire("2026-11-23T08:05:00.000Z");
  assert.deepEqual([third.r.skipped, third.r.created], [false, 0]);
});

dbTest("a chunk whose transaction fails is replayed one schedule at a time", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:00Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const schedules = Array.from(
    { length: 5 },
    (_, i) => ({ cron: "*/5 * * * *", parameters: { i } }),
  );
  await deploy(call, { name: "chunky", schedules });
  // A database whose first multi-schedule write fails (say, a deadlock victim).
  let failures = 0;
  const flaky = Object.assign(
    (strings: TemplateStringsArray, ...values: unknown[]) => {
      const many = typeof values[0] === "string" && values[0].startsWith("[{") &&
        JSON.parse(values[0]).length > 1;
      if (strings.join("").includes("fire_schedules") && many && failures++ === 0) {
        return Promise.reject(new Error("deadlock detected"));
      }
      return db.sql(strings, ...values);
    },
    db.sql,
  ) as Sql;
  const logged: string[] = [];
  const result = await tickSchedules({
    sql: flaky,
    now: () => new Date("2026-11-23T08:04:00Z"),
    log: (_level, message) => logged.push(message),
  });
  assert.deepEqual([result.schedules, result.created, result.errors], [5, 5, 0]);
  assert.equal(failures, 1);
  assert.match(logged[0], /one by one/);
  assert.equal(await scheduledRuns(db.sql), 5);
});
