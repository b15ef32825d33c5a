/**
 * Editing or removing a schedule after a tick planned its runs ahead (issue
 * 10 item 2): the planned runs that have not started are withdrawn in the
 * deploy's transaction and planned again from the new schedule, so every
 * fire time of the deployment has exactly one run, with the new values.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { Clock, clockApp, deploy, onlySchedule, registerFlow, tick } from "./helpers.ts";

interface Planned {
  id: string;
  at: string;
  scope: string;
  parameters: Record<string, unknown>;
}

/** The deployment's runs by fire time. */
async function runsOf(sql: Sql, name: string): Promise<Planned[]> {
  return await sql<Planned>`
    select r.id, edgeflow.iso(r.scheduled_time) as at, r.idempotency_scope as scope,
           r.parameters
      from edgeflow.runs r join edgeflow.deployments d on d.id = r.deployment_id
     where d.name = ${name} order by r.scheduled_time, r.parameters::text`;
}

/** Fire time → the parameters of each of its runs. */
function byFireTime(runs: Planned[]): Record<string, Record<string, unknown>[]> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const r of runs) (out[r.at] ??= []).push(r.parameters);
  return out;
}

dbTest("changed schedule parameters: one run per fire time, with the new ones", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:30Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const first = await deploy(call, {
    name: "p",
    schedules: [{ cron: "* * * * *", parameters: { v: 1 } }],
  });
  await tick(call); // plans 08:01 and 08:02 (90 s ahead)
  assert.deepEqual(Object.keys(byFireTime(await runsOf(db.sql, "p"))), [
    "2026-11-23T08:01:00.000Z",
    "2026-11-23T08:02:00.000Z",
  ]);

  clock.advance(10);
  const edited = await deploy(call, {
    name: "p",
    schedules: [{ cron: "* * * * *", parameters: { v: 2 } }],
  });
  assert.notEqual(onlySchedule(edited).id, onlySchedule(first).id);
  await tick(call);
  clock.advance(60);
  await tick(call);
  assert.deepEqual(byFireTime(await runsOf(db.sql, "p")), {
    "2026-11-23T08:01:00.000Z": [{ v: 2 }],
    "2026-11-23T08:02:00.000Z": [{ v: 2 }],
    "2026-11-23T08:03:00.000Z": [{ v: 2 }],
  });
});

dbTest("a timezone change that keeps the instant does not run it twice", async (db) => {
  const clock = Clock.at("2026-11-23T08:29:00Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  await deploy(call, {
    name: "tz",
    schedules: [{ cron: "30 8 * * *", timezone: "UTC", parameters: { zone: "utc" } }],
  });
  await tick(call);
  assert.equal((await runsOf(db.sql, "tz")).length, 1);

  // 14:00 in Kolkata is 08:30 UTC: another schedule, the same fire time.
  await deploy(call, {
    name: "tz",
    schedules: [{ cron: "0 14 * * *", timezone: "Asia/Kolkata", parameters: { zone: "ist" } }],
  });
  await tick(call);
  clock.advance(30);
  await tick(call);
  assert.deepEqual(byFireTime(await runsOf(db.sql, "tz")), {
    "2026-11-23T08:30:00.000Z": [{ zone: "ist" }],
  });
});

dbTest("an edit under the same id re-plans its runs with the new parameters", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:30Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const first = await deploy(call, {
    name: "id",
    parameters: { base: "a" },
    schedules: [{ cron: "* * * * *", parameters: { v: 1 } }],
  });
  const id = onlySchedule(first).id;
  await tick(call);

  // The same schedule, named by id, with other parameters.
  const edited = await deploy(call, {
    name: "id",
    parameters: { base: "a" },
    schedules: [{ id, cron: "* * * * *", parameters: { v: 2 } }],
  });
  assert.equal(onlySchedule(edited).id, id);
  assert.equal(onlySchedule(edited).next_fire_at, "2026-11-23T08:01:00.000Z");
  await tick(call);
  assert.deepEqual(byFireTime(await runsOf(db.sql, "id")), {
    "2026-11-23T08:01:00.000Z": [{ base: "a", v: 2 }],
    "2026-11-23T08:02:00.000Z": [{ base: "a", v: 2 }],
  });

  // The deployment's own parameters shape its scheduled runs too.
  await deploy(call, {
    name: "id",
    parameters: { base: "b" },
    schedules: [{ id, cron: "* * * * *", parameters: { v: 2 } }],
  });
  await tick(call);
  const runs = await runsOf(db.sql, "id");
  assert.deepEqual(byFireTime(runs), {
    "2026-11-23T08:01:00.000Z": [{ base: "b", v: 2 }],
    "2026-11-23T08:02:00.000Z": [{ base: "b", v: 2 }],
  });
  assert.ok(runs.every((r) => r.scope === `schedule:${id}`));
});

dbTest(
  "an unchanged redeploy keeps the planned runs; a removed schedule withdraws them",
  async (db) => {
    const clock = Clock.at("2026-11-23T07:59:00Z");
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const body = {
      name: "rm",
      schedules: [
        { cron: "* * * * *", parameters: { which: "kept" } },
        { cron: "*/2 * * * *", parameters: { which: "removed" } },
      ],
    };
    await deploy(call, body);
    clock.set("2026-11-23T07:59:50Z");
    await tick(call); // 08:00 of both, 08:01 of the first
    clock.set("2026-11-23T08:00:30Z");
    await tick(call); // 08:02 of both
    const planned = await runsOf(db.sql, "rm");
    assert.equal(planned.length, 5);

    await deploy(call, body);
    assert.deepEqual(
      [...await runsOf(db.sql, "rm")],
      [...planned],
      "the same body withdraws nothing",
    );

    await deploy(call, { name: "rm", schedules: [body.schedules[0]] });
    await tick(call);
    // 08:00 had fired before the deploy: its runs stay. 08:02 of the removed one is gone.
    assert.deepEqual(byFireTime(await runsOf(db.sql, "rm")), {
      "2026-11-23T08:00:00.000Z": [{ which: "kept" }, { which: "removed" }],
      "2026-11-23T08:01:00.000Z": [{ which: "kept" }],
      "2026-11-23T08:02:00.000Z": [{ which: "kept" }],
    });
  },
);

dbTest("deactivating a schedule withdraws its planned runs", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:30Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  await deploy(call, { name: "off", schedules: [{ cron: "* * * * *" }] });
  await tick(call);
  assert.equal((await runsOf(db.sql, "off")).length, 2);
  await deploy(call, { name: "off", schedules: [{ cron: "* * * * *", active: false }] });
  await tick(call);
  assert.equal((await runsOf(db.sql, "off")).length, 0);
});

dbTest("pausing a schedule or its deployment withdraws the planned runs", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:30Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const one = await deploy(call, { name: "ps", schedules: [{ cron: "* * * * *" }] });
  await deploy(call, { name: "pd", schedules: [{ cron: "* * * * *" }] });
  await tick(call);
  assert.equal((await runsOf(db.sql, "ps")).length, 2);
  assert.equal((await runsOf(db.sql, "pd")).length, 2);

  const id = onlySchedule(one).id;
  const res = await call("POST", `/deploy/deployments/ps/schedules/${id}/pause`);
  assert.equal(res.status, 200);
  await deploy(call, { name: "pd", paused: true, schedules: [{ cron: "* * * * *" }] });
  await tick(call);
  assert.equal((await runsOf(db.sql, "ps")).length, 0);
  assert.equal((await runsOf(db.sql, "pd")).length, 0);

  // Resumed, they fire again from the next fire time after now, once each.
  await call("POST", `/deploy/deployments/ps/schedules/${id}/resume`);
  await deploy(call, { name: "pd", schedules: [{ cron: "* * * * *" }] });
  await tick(call);
  for (const name of ["ps", "pd"]) {
    assert.deepEqual(Object.keys(byFireTime(await runsOf(db.sql, name))), [
      "2026-11-23T08:01:00.000Z",
      "2026-11-23T08:02:00.000Z",
    ]);
  }
});

dbTest("a deployment paused outside POST /deploy withdraws its planned runs too", async (db) => {
  // The trigger behind every pause path withdraws by the database clock: plan an hour ahead of it.
  const clock = new Clock(Math.ceil(Date.now() / 60_000) * 60_000 + 3_600_000 + 30_000);
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  await deploy(call, { name: "sqlp", schedules: [{ cron: "* * * * *" }] });
  await tick(call);
  assert.equal((await runsOf(db.sql, "sqlp")).length, 2);
  await db.sql`update edgeflow.deployments set paused = true where name = 'sqlp'`;
  assert.equal((await runsOf(db.sql, "sqlp")).length, 0);
});
