/** POST /deploy with schedules: validation, normalisation, and idempotent redeploys. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { Clock, clockApp, deploy, onlySchedule, registerFlow } from "./helpers.ts";

const T0 = "2026-11-23T08:00:00.000Z"; // a Monday

dbTest("deploy lists each schedule normalised, with id and next_fire_at", async (db) => {
  const { call } = clockApp(db.sql, Clock.at(T0));
  await registerFlow(call);
  const d = await deploy(call, {
    name: "mix",
    schedules: [
      { cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" },
      { interval: 3600, anchor: "2026-01-01T00:20:00Z" },
      { rrule: "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", timezone: "Europe/Berlin" },
    ],
  });
  const [cron, interval, rrule] = d.schedules;
  assert.match(cron.id, /^[0-9a-f-]{36}$/);
  assert.equal(cron.cron, "30 15 * * 1-5");
  assert.equal(cron.catchup, "latest");
  assert.equal(cron.max_late, 3600);
  assert.equal(cron.active, true);
  assert.equal(cron.next_fire_at, "2026-11-23T10:00:00.000Z"); // 15:30 IST
  assert.equal(interval.next_fire_at, "2026-11-23T08:20:00.000Z");
  assert.equal(interval.anchor, "2026-01-01T00:20:00.000Z");
  // Without DTSTART an rrule starts at local midnight of its creation day, written out.
  assert.equal(
    rrule.rrule,
    "DTSTART;TZID=Europe/Berlin:20261123T000000\nRRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
  );
  assert.equal(rrule.next_fire_at, "2026-11-24T08:00:00.000Z"); // 09:00 CET tomorrow

  const read = await call("GET", "/deploy/deployments/mix");
  assert.deepEqual(read.body.schedules, d.schedules);
});

dbTest(
  "redeploying the same file keeps ids and next_fire_at; explicit ids match too",
  async (db) => {
    const clock = Clock.at(T0);
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const file = {
      name: "same",
      schedules: [{ interval: 600 }, { cron: "0 * * * *", parameters: { a: 1 } }],
    };
    const first = await deploy(call, file);
    clock.advance(7); // an interval without anchor was anchored at creation, not now
    const again = await call("POST", "/deploy", { flow: "job", ...file });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.schedules, first.schedules);

    // Same spec but different parameters is another schedule; an explicit id keeps its identity.
    const [iv, cr] = first.schedules;
    const changed = await deploy(call, {
      name: "same",
      schedules: [{ id: cr.id, cron: "15 * * * *" }, { interval: 600 }, { cron: "0 * * * *" }],
    });
    assert.equal(changed.schedules[0].id, cr.id);
    assert.equal(changed.schedules[0].next_fire_at, "2026-11-23T08:15:00.000Z");
    assert.equal(changed.schedules[1].id, iv.id);
    assert.equal(changed.schedules[1].next_fire_at, iv.next_fire_at);
    assert.notEqual(changed.schedules[2].id, cr.id);

    // Sending back what GET returned is accepted as is.
    const read = await call("GET", "/deploy/deployments/same");
    const back = await call("POST", "/deploy", {
      flow: "job",
      name: "same",
      schedules: read.body.schedules,
    });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.deepEqual(back.body.schedules, read.body.schedules);

    const dropped = await deploy(call, { name: "same", schedules: [] });
    assert.deepEqual(dropped.schedules, []);
    const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.schedules`;
    assert.equal(n, 0);
  },
);

dbTest(
  "invalid expressions, zones and ids are 422s naming the field; nothing is written",
  async (db) => {
    const { call } = clockApp(db.sql, Clock.at(T0));
    await registerFlow(call);
    const bad = await call("POST", "/deploy", {
      flow: "job",
      name: "bad",
      schedules: [
        { cron: "61 * * * *" },
        { cron: "0 9 * * *", timezone: "Mars/Olympus" },
        { rrule: "FREQ=SOMETIMES" },
        { interval: 0 },
        { cron: "0 * * * *", interval: 60 },
        { cron: "0 * * * *", catchup: "sometimes" },
        { id: "5f0c6a4e-8f43-4bd5-9d55-6b1b1f2f0a10", interval: 60 },
      ],
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.code, "validation_failed");
    const paths = bad.body.errors.map((e: { path: string }) => e.path);
    for (
      const p of [
        "schedules[0].cron",
        "schedules[1].timezone",
        "schedules[2].rrule",
        "schedules[3].interval",
        "schedules[4].interval",
        "schedules[5].catchup",
        "schedules[6].id",
      ]
    ) assert.ok(paths.includes(p), `${p} in ${paths}`);
    assert.equal((await call("GET", "/deploy/deployments/bad")).status, 404);
  },
);

dbTest("required parameters without a default cannot be scheduled (422 at deploy)", async (db) => {
  const { call } = clockApp(db.sql, Clock.at(T0));
  await registerFlow(call, "job", {
    type: "object",
    properties: { day: { type: "string" }, limit: { type: "integer", default: 10 } },
    required: ["day", "limit"],
  });
  const refused = await call("POST", "/deploy", {
    flow: "job",
    name: "needs-day",
    schedules: [{ cron: "0 * * * *" }, { cron: "0 * * * *", parameters: { day: 3 } }],
  });
  assert.equal(refused.status, 422);
  assert.deepEqual(refused.body.errors.map((e: { path: string }) => e.path), [
    "schedules[0].parameters.day",
    "schedules[1].parameters.day",
  ]);
  assert.match(refused.body.errors[0].message, /no default in the deployment or this schedule/);
  // Without schedules the same deployment is fine: a trigger passes the parameter.
  assert.equal((await call("POST", "/deploy", { flow: "job", name: "needs-day" })).status, 201);
  // A default in the deployment or in the schedule makes it schedulable.
  const ok = await deploy(call, {
    name: "with-day",
    parameters: { day: "today" },
    schedules: [{ cron: "0 * * * *" }],
  });
  assert.equal(onlySchedule(ok).next_fire_at, "2026-11-23T09:00:00.000Z");
  await deploy(call, {
    name: "sched-day",
    schedules: [{ cron: "0 * * * *", parameters: { day: "x" } }],
  });
});
