/** Pausing and resuming schedules and deployments, and the preview of fire times. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import {
  Clock,
  clockApp,
  deploy,
  fireTimesOf,
  onlySchedule,
  registerFlow,
  tick,
} from "./helpers.ts";

const T0 = "2026-11-23T08:00:00Z";

dbTest(
  "a paused schedule does not fire; resuming starts after now, without catch-up",
  async (db) => {
    const clock = Clock.at(T0);
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const s = onlySchedule(
      await deploy(call, { name: "p", schedules: [{ cron: "*/10 * * * *" }] }),
    );
    const path = `/deploy/deployments/p/schedules/${s.id}`;

    const paused = await call("POST", `${path}/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.active, false);
    assert.equal(paused.body.next_fire_at, null);
    assert.equal(paused.body.deployment, "p");
    assert.equal((await call("POST", `${path}/pause`)).status, 200, "pausing twice is fine");
    assert.equal(onlySchedule((await call("GET", "/deploy/deployments/p")).body).active, false);

    clock.set("2026-11-23T09:00:00Z");
    assert.equal((await tick(call)).created, 0);
    const resumed = await call("POST", `${path}/resume`);
    assert.equal(resumed.body.active, true);
    assert.equal(resumed.body.next_fire_at, "2026-11-23T09:10:00.000Z");
    // Resuming again changes nothing (it does not move next_fire_at).
    clock.set("2026-11-23T09:05:00Z");
    assert.equal(
      (await call("POST", `${path}/resume`)).body.next_fire_at,
      "2026-11-23T09:10:00.000Z",
    );
    clock.set("2026-11-23T09:09:00Z");
    assert.equal((await tick(call)).created, 1);
    assert.deepEqual(await fireTimesOf(db.sql, s.id), ["2026-11-23T09:10:00.000Z"]);

    // The deploy body stays the source of truth: redeploying it makes the schedule active again.
    await call("POST", `${path}/pause`);
    const redeployed = await deploy(call, { name: "p", schedules: [{ cron: "*/10 * * * *" }] });
    assert.equal(onlySchedule(redeployed).id, s.id);
    assert.equal(onlySchedule(redeployed).active, true);

    assert.equal(
      (await call("POST", `/deploy/deployments/other/schedules/${s.id}/pause`)).status,
      404,
    );
    assert.equal((await call("POST", `/deploy/deployments/p/schedules/nope/resume`)).status, 404);
  },
);

dbTest("pausing a deployment pauses its schedules; unpausing resumes them from now", async (db) => {
  const clock = Clock.at(T0);
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const body = { name: "dep", schedules: [{ cron: "*/10 * * * *", catchup: "all" }] };
  const s = onlySchedule(await deploy(call, { ...body, paused: true }));
  assert.equal(s.active, true);
  assert.equal(s.next_fire_at, null, "a paused deployment's schedule has no next fire time");
  clock.set("2026-11-23T09:00:00Z");
  assert.equal((await tick(call)).created, 0);
  const resumed = onlySchedule(await deploy(call, { ...body, paused: false }));
  assert.equal(resumed.id, s.id);
  assert.equal(resumed.next_fire_at, "2026-11-23T09:10:00.000Z", "no catch-up of the pause");
  assert.equal((await tick(call)).created, 0);
});

dbTest("a deployment paused outside POST /deploy also stops its schedules", async (db) => {
  const clock = Clock.at(T0);
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const s = onlySchedule(
    await deploy(call, { name: "sql", schedules: [{ cron: "*/10 * * * *" }] }),
  );
  await db.sql`update edgeflow.deployments set paused = true where name = 'sql'`;
  clock.set("2026-11-23T08:30:00Z");
  assert.equal((await tick(call)).created, 0);
  await db.sql`update edgeflow.deployments set paused = false where name = 'sql'`;
  // The trigger marks the resume with the database clock; pin it to this test's clock.
  await db.sql`update edgeflow.schedules set resumed_at = '2026-11-23T08:25:00Z'
                where id = ${s.id}::uuid and resumed_at is not null`;
  assert.equal((await tick(call)).created, 1);
  // 08:10 and 08:20 fell in the pause; "latest" catch-up applies only from the resume.
  assert.deepEqual(await fireTimesOf(db.sql, s.id), ["2026-11-23T08:30:00.000Z"]);
});

dbTest("preview lists the next N fire times in UTC and in the schedule's zone", async (db) => {
  const { call } = clockApp(db.sql, Clock.at("2026-11-27T12:00:00Z")); // a Friday
  await registerFlow(call);
  const s = onlySchedule(
    await deploy(call, {
      name: "pv",
      schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" }],
    }),
  );
  const path = `/deploy/deployments/pv/schedules/${s.id}/preview`;
  const res = await call("GET", `${path}?count=3`);
  assert.equal(res.status, 200);
  assert.equal(res.body.timezone, "Asia/Kolkata");
  assert.deepEqual(res.body.fire_times, [
    { utc: "2026-11-30T10:00:00.000Z", local: "2026-11-30T15:30:00+05:30" },
    { utc: "2026-12-01T10:00:00.000Z", local: "2026-12-01T15:30:00+05:30" },
    { utc: "2026-12-02T10:00:00.000Z", local: "2026-12-02T15:30:00+05:30" },
  ]);
  assert.equal((await call("GET", path)).body.fire_times.length, 10);
  for (const bad of ["0", "101", "abc", "2.5"]) {
    const r = await call("GET", `${path}?count=${bad}`);
    assert.equal(r.status, 422, bad);
    assert.equal(r.body.errors[0].path, "count");
  }
});
