// deno-lint-ignore-file no-explicit-any
/**
 * `select edgeflow.tick()`: the schedules' part of the tick in SQL, firing
 * the fire times TypeScript planned at deploy time (edgeflow.schedule_plans).
 * The engine's clock is moved (edgeflow.advance_clock) instead of waiting.
 * The SQL tick must create the runs the TypeScript tick would
 * (`dueFireTimes`, catch-up policies included), each once, and leave alone a
 * plan its schedule no longer matches.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { createApp } from "../../shared/app/app.ts";
import { configFromEnv } from "../../shared/app/deps.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { testClock } from "../support/clock.ts";
import { dueFireTimes, nextFireTime } from "../../shared/schedule/mod.ts";
import { storedSpec } from "../../shared/scheduler/stored_spec.ts";
import type { Sql } from "../../shared/db/sql.ts";

const HOUR = 3600;

async function sqlTick(sql: Sql): Promise<any> {
  const [{ r }] = await sql<{ r: any }>`select edgeflow.tick() as r`;
  return r;
}

async function runTimes(sql: Sql, deployment: string): Promise<string[]> {
  const rows = await sql<{ at: string }>`
    select edgeflow.iso(r.scheduled_time) as at from edgeflow.runs r
      join edgeflow.deployments d on d.id = r.deployment_id
     where d.name = ${deployment} order by r.scheduled_time`;
  return rows.map((r) => r.at);
}

async function schedule(sql: Sql, deployment: string): Promise<{ spec: unknown; next: string }> {
  const [row] = await sql<{ spec: unknown; next: string }>`
    select s.spec, edgeflow.iso(s.next_fire_at) as next from edgeflow.schedules s
      join edgeflow.deployments d on d.id = s.deployment_id where d.name = ${deployment}`;
  return row;
}

dbTest("the SQL tick fires a planned daily cron schedule once, at its time", async (db) => {
  const clock = testClock(db.sql);
  const { call } = testApp(db, {}, { now: clock.now });
  assert.equal(
    (await call("POST", "/register", { name: "daily", steps: [{ slug: "a" }] })).status,
    201,
  );
  const deployed = await call("POST", "/deploy", {
    name: "daily-3am",
    flow: "daily",
    schedules: [{ cron: "0 3 * * *", timezone: "Europe/Berlin" }],
  });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  const first = deployed.body.schedules[0].next_fire_at as string;

  // Nothing is due yet: the tick fires nothing.
  assert.equal((await sqlTick(db.sql)).created, 0);
  // 30 s before the fire time (inside the 90 s horizon): the run is created ahead, once.
  await clock.advance((Date.parse(first) - clock.now().getTime()) / 1000 - 30);
  const ticked = await sqlTick(db.sql);
  assert.equal(ticked.schedules, 1);
  assert.equal(ticked.created, 1);
  const again = await sqlTick(db.sql);
  assert.deepEqual([again.schedules, again.created], [0, 0]);
  assert.deepEqual(await runTimes(db.sql, "daily-3am"), [first]);
  const { spec, next } = await schedule(db.sql, "daily-3am");
  assert.equal(next, nextFireTime(storedSpec(spec), new Date(first))!.toISOString());
});

dbTest(
  "the SQL tick applies catch-up policies to planned times as dueFireTimes does",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    assert.equal(
      (await call("POST", "/register", { name: "hourly", steps: [{ slug: "a" }] })).status,
      201,
    );
    const policies = [
      { catchup: "all", max_late: 3 * HOUR },
      { catchup: "latest" },
      { catchup: "none" },
    ];
    for (const p of policies) {
      const res = await call("POST", "/deploy", {
        name: `hourly-${p.catchup}`,
        flow: "hourly",
        schedules: [{ interval: HOUR, ...p }],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const before = new Map<string, { spec: unknown; next: string }>();
    for (const p of policies) before.set(p.catchup, await schedule(db.sql, `hourly-${p.catchup}`));
    // An outage of 5.5 h: five fire times missed, the next half an hour away.
    await clock.advance(5.5 * HOUR);
    const now = await clock.read();
    await sqlTick(db.sql);
    for (const p of policies) {
      const { spec, next } = before.get(p.catchup)!;
      const expected = dueFireTimes(storedSpec(spec), {
        nextFireAt: new Date(next),
        now,
        horizonMs: 90_000,
      });
      assert.deepEqual(
        await runTimes(db.sql, `hourly-${p.catchup}`),
        expected.fireTimes.map((t) => t.toISOString()),
        p.catchup,
      );
      assert.equal(
        (await schedule(db.sql, `hourly-${p.catchup}`)).next,
        expected.nextFireAt!.toISOString(),
      );
    }
    assert.equal((await runTimes(db.sql, "hourly-all")).length, 3, "the ones within max_late");
  },
);

dbTest(
  "a plan its schedule no longer matches is not fired; the HTTP tick fires and replans",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    assert.equal(
      (await call("POST", "/register", { name: "f", steps: [{ slug: "a" }] })).status,
      201,
    );
    const deployed = await call("POST", "/deploy", {
      name: "stale",
      flow: "f",
      schedules: [{ interval: HOUR }],
    });
    const first = deployed.body.schedules[0].next_fire_at as string;
    // The schedule changes behind the plan's back (its zone here): the plan is stale.
    await db.sql`update edgeflow.schedules set timezone = 'Asia/Tokyo'`;
    await clock.advance((Date.parse(first) - clock.now().getTime()) / 1000 - 30);
    const ticked = await sqlTick(db.sql);
    assert.deepEqual([ticked.created, ticked.unplanned], [0, 1]);
    assert.deepEqual(await runTimes(db.sql, "stale"), []);

    const http = await call("POST", "/trigger/tick");
    assert.equal(http.status, 200, JSON.stringify(http.body));
    assert.equal(http.body.created, 1);
    assert.equal(http.body.planned, 1, "the HTTP tick made the plan again");
    assert.deepEqual(await runTimes(db.sql, "stale"), [first]);
    const [plan] = await db.sql<{ tz: string }>`select timezone as tz from edgeflow.schedule_plans`;
    assert.equal(plan.tz, "Asia/Tokyo");
    // The next hour comes from the fresh plan, through SQL alone.
    await clock.advance(HOUR);
    const later = await sqlTick(db.sql);
    assert.deepEqual([later.created, later.unplanned], [1, 0]);
  },
);

dbTest(
  "on Supabase a function request tops plans up in the background (EdgeRuntime.waitUntil)",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    assert.equal(
      (await call("POST", "/register", { name: "f", steps: [{ slug: "a" }] })).status,
      201,
    );
    assert.equal(
      (await call("POST", "/deploy", { name: "d", flow: "f", schedules: [{ interval: HOUR }] }))
        .status,
      201,
    );
    await db.sql`delete from edgeflow.schedule_plans`;
    // The app as a Supabase function builds it: the runtime's waitUntil and the top-up's default.
    const handed: Promise<unknown>[] = [];
    const app = createApp({
      sql: () => db.sql,
      config: configFromEnv({
        SUPABASE_URL: "https://ref.supabase.co",
        EDGEFLOW_ADMIN_KEY: ADMIN_KEY,
      }),
      log: silentLogger,
      now: clock.now,
      waitUntil: (work) => handed.push(work),
    });
    const res = await app.request("/heartbeat/health");
    assert.equal(res.status, 200);
    assert.equal(handed.length, 1, "the planning went to waitUntil, after the response");
    await Promise.all(handed);
    const [plan] = await db.sql<
      { n: number }
    >`select count(*)::int as n from edgeflow.schedule_plans`;
    assert.equal(plan.n, 1);
    // At most once per 10 minutes per process.
    await (await app.request("/heartbeat/health")).body?.cancel();
    assert.equal(handed.length, 1);
  },
);
