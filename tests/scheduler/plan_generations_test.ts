// deno-lint-ignore-file no-explicit-any
/**
 * Which schedules the tick plans ahead (edgeflow.schedules_to_plan): those
 * whose plan is missing, made from a state that changed since (a schedule
 * edit, the deployment's parameters or version pin, a new or archived flow
 * version), or half gone — found by generation and refill time through
 * partial indexes, not by comparing every schedule with its plan on every
 * tick. The rows the call fetched from edgeflow.schedules are read from
 * pg_stat_xact_user_tables in the call's own transaction.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { planAhead } from "../../shared/scheduler/plan_ahead.ts";
import type { Sql } from "../../shared/db/sql.ts";

const DAY = 86_400;

/** The schedules offered for planning at `now`, and the schedule rows the call fetched. */
async function offered(sql: Sql, now: Date): Promise<{ ids: string[]; fetched: number }> {
  return await sql.begin(async (tx) => {
    const before = await fetchedRows(tx);
    const [{ r }] = await tx<{ r: any[] }>`
      select edgeflow.schedules_to_plan(${now.toISOString()}::timestamptz,
                                        interval '3.5 days', 200) as r`;
    return { ids: r.map((x) => x.id), fetched: (await fetchedRows(tx)) - before };
  });
}

async function fetchedRows(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }>`
    select coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) as n
      from pg_stat_xact_user_tables where schemaname = 'edgeflow' and relname = 'schedules'`;
  return Number(row.n);
}

async function scheduleIds(sql: Sql, deployment: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    select s.id from edgeflow.schedules s join edgeflow.deployments d on d.id = s.deployment_id
     where d.name = ${deployment} order by s.position`;
  return rows.map((r) => r.id);
}

async function planAll(sql: Sql, now: Date): Promise<void> {
  for (let i = 0; i < 20 && await planAhead(sql, now, 1000) > 0; i++);
}

dbTest("a tick with every plan current offers no schedule and reads none", async (db) => {
  const clock = testClock(db.sql);
  const { call } = testApp(db, {}, { now: clock.now });
  assert.equal(
    (await call("POST", "/register", { name: "f", steps: [{ slug: "a" }] })).status,
    201,
  );
  for (let i = 0; i < 30; i++) {
    const r = await call("POST", "/deploy", {
      name: `d${i}`,
      flow: "f",
      schedules: [{ cron: `${i} 3 * * *`, timezone: "Europe/Berlin" }, { interval: 3600 + i }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  await planAll(db.sql, clock.now());
  const idle = await offered(db.sql, clock.now());
  assert.deepEqual(idle.ids, []);
  // 60 live schedules, all planned: none of them is read. Comparing each with its plan fetched all 60.
  assert.equal(idle.fetched, 0);
});

dbTest(
  "an edit, the deployment's parameters, a new flow version each make plans again",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    const flow = { name: "g", steps: [{ slug: "a" }] };
    assert.equal((await call("POST", "/register", flow)).status, 201);
    for (const name of ["one", "two"]) {
      const r = await call("POST", "/deploy", {
        name,
        flow: "g",
        schedules: [{ cron: "0 4 * * *", timezone: "UTC" }],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const [one] = await scheduleIds(db.sql, "one");
    const [two] = await scheduleIds(db.sql, "two");
    await planAll(db.sql, clock.now());
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);

    // The deployment's parameters are part of the plan: only its schedule is offered.
    await db.sql`update edgeflow.deployments set parameters = '{"x": 1}' where name = 'one'`;
    assert.deepEqual((await offered(db.sql, clock.now())).ids, [one]);
    await planAll(db.sql, clock.now());
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);

    // The schedule's own spec.
    const redeployed = await call("POST", "/deploy", {
      name: "two",
      flow: "g",
      schedules: [{ cron: "30 4 * * *", timezone: "UTC" }],
    });
    assert.equal(redeployed.status, 200, JSON.stringify(redeployed.body));
    const [twoNow] = await scheduleIds(db.sql, "two");
    // The deploy planned its schedule itself: nothing is left for the tick.
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);
    const [made] = await db.sql<{ spec: any }>`
    select spec from edgeflow.schedule_plans where schedule_id = ${twoNow}::uuid`;
    assert.equal(made.spec.cron, "30 4 * * *");
    // An edit by another path (the row itself) is seen too.
    await db.sql`update edgeflow.schedules set timezone = 'Asia/Tokyo' where id = ${twoNow}::uuid`;
    assert.deepEqual((await offered(db.sql, clock.now())).ids, [twoNow]);
    await planAll(db.sql, clock.now());
    // A fire moving next_fire_at forward keeps the plan.
    await db.sql`update edgeflow.schedules set next_fire_at = next_fire_at + interval '1 day'
                where id = ${twoNow}::uuid`;
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);

    // A new version of the flow: both deployments run it now.
    assert.equal(
      (await call("POST", "/register", { ...flow, steps: [{ slug: "a" }, { slug: "b" }] })).status,
      201,
    );
    assert.deepEqual(new Set((await offered(db.sql, clock.now())).ids), new Set([one, twoNow]));
    await planAll(db.sql, clock.now());
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);
    void two;
  },
);

dbTest(
  "a plan made from a state that changed before it was saved leaves the schedule to plan",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    assert.equal(
      (await call("POST", "/register", { name: "h", steps: [{ slug: "a" }] })).status,
      201,
    );
    const r = await call("POST", "/deploy", {
      name: "h1",
      flow: "h",
      schedules: [{ cron: "0 5 * * *", timezone: "UTC" }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [id] = await scheduleIds(db.sql, "h1");
    await planAll(db.sql, clock.now());
    await db.sql`update edgeflow.deployments set parameters = '{"v": 1}' where name = 'h1'`;
    // A planner read the schedule (generation g) ...
    const [{ r: read }] = await db.sql<{ r: any[] }>`
    select edgeflow.schedules_to_plan(${clock.now().toISOString()}::timestamptz,
                                      interval '3.5 days', 10) as r`;
    assert.deepEqual(read.map((x) => x.id), [id]);
    // ... a deploy changed the parameters again before its plan was saved ...
    await db.sql`update edgeflow.deployments set parameters = '{"v": 2}' where name = 'h1'`;
    const [{ n }] = await db.sql<{ n: number }>`
    select edgeflow.save_schedule_plans(${
      JSON.stringify([{
        id,
        gen: read[0].gen,
        spec: read[0].spec,
        timezone: read[0].timezone,
        parameters: read[0].parameters,
        version_id: read[0].version_id,
        times: [read[0].next_fire_at],
        until: read[0].next_fire_at,
        final: false,
        refill_at: null,
      }])
    }::text::jsonb) as n`;
    assert.equal(n, 1);
    // ... so the schedule is still offered, and the plan made from {"v": 2} sticks.
    const again = await offered(db.sql, clock.now());
    assert.deepEqual(again.ids, [id]);
    await planAll(db.sql, clock.now());
    const [plan] = await db.sql<{ parameters: unknown }>`
    select parameters from edgeflow.schedule_plans where schedule_id = ${id}::uuid`;
    assert.deepEqual(plan.parameters, { v: 2 });
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);
  },
);

dbTest("a plan deleted by hand is made again", async (db) => {
  const clock = testClock(db.sql);
  const { call } = testApp(db, {}, { now: clock.now });
  assert.equal(
    (await call("POST", "/register", { name: "m", steps: [{ slug: "a" }] })).status,
    201,
  );
  const r = await call("POST", "/deploy", {
    name: "m1",
    flow: "m",
    schedules: [{ interval: 3600 }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const [id] = await scheduleIds(db.sql, "m1");
  await planAll(db.sql, clock.now());
  assert.deepEqual((await offered(db.sql, clock.now())).ids, []);
  await db.sql`delete from edgeflow.schedule_plans`;
  assert.deepEqual((await offered(db.sql, clock.now())).ids, [id]);
});

dbTest("plans are made again once half of them has passed, not before", async (db) => {
  const clock = testClock(db.sql);
  const { call } = testApp(db, {}, { now: clock.now });
  assert.equal(
    (await call("POST", "/register", { name: "k", steps: [{ slug: "a" }] })).status,
    201,
  );
  const r = await call("POST", "/deploy", {
    name: "k1",
    flow: "k",
    schedules: [{ cron: "0 6 * * *", timezone: "UTC" }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const [id] = await scheduleIds(db.sql, "k1");
  await planAll(db.sql, clock.now());
  const [{ refill }] = await db.sql<{ refill: string }>`
    select edgeflow.iso(refill_at) as refill from edgeflow.schedule_plans
     where schedule_id = ${id}::uuid`;
  const at = Date.parse(refill);
  assert.deepEqual((await offered(db.sql, new Date(at - 60_000))).ids, []);
  assert.deepEqual((await offered(db.sql, new Date(at + 60_000))).ids, [id]);
  // A daily plan covers 7 days: it is made again after about 3.5 of them.
  const days = (at - clock.now().getTime()) / 1000 / DAY;
  assert.ok(days > 3 && days < 4.5, `refill after ${days} days`);
});

dbTest(
  "a schedule whose parameters do not fit its flow is not offered on every tick",
  async (db) => {
    const clock = testClock(db.sql);
    const { call } = testApp(db, {}, { now: clock.now });
    const flow = {
      name: "p",
      parameters: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
      steps: [{ slug: "a" }],
    };
    assert.equal((await call("POST", "/register", flow)).status, 201, "register");
    const r = await call("POST", "/deploy", {
      name: "p1",
      flow: "p",
      parameters: { n: 1 },
      schedules: [{ cron: "0 7 * * *", timezone: "UTC" }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [id] = await scheduleIds(db.sql, "p1");
    await planAll(db.sql, clock.now());
    // Parameters that no longer fit (written past the API's validation): no plan, offered once.
    await db.sql`update edgeflow.deployments set parameters = '{"n": "x"}' where name = 'p1'`;
    assert.deepEqual((await offered(db.sql, clock.now())).ids, [id]);
    assert.equal(await planAhead(db.sql, clock.now()), 0);
    assert.deepEqual((await offered(db.sql, clock.now())).ids, []);
    // Half of the old plan passing does not offer it either.
    assert.deepEqual(
      (await offered(db.sql, new Date(clock.now().getTime() + 5 * DAY * 1000))).ids,
      [],
    );
    // Fixed: planned again.
    await db.sql`update edgeflow.deployments set parameters = '{"n": 2}' where name = 'p1'`;
    assert.deepEqual((await offered(db.sql, clock.now())).ids, [id]);
  },
);
