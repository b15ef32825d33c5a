/**
 * Fire times of cron, interval and rrule schedules as the tick creates them,
 * with a clock the test moves: on time, in their zones, across DST.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import type { Sql } from "../../shared/db/sql.ts";
import {
  type Call,
  Clock,
  clockApp,
  deploy,
  fireTimesOf,
  onlySchedule,
  registerFlow,
  runsOf,
  tick,
} from "./helpers.ts";

/** Tick every `stepMinutes` from `from` to `to` and return the schedule's run times. */
async function tickThrough(
  sql: Sql,
  call: Call,
  clock: Clock,
  scheduleId: string,
  range: { from: string; to: string; stepMinutes: number },
): Promise<string[]> {
  for (
    clock.set(range.from);
    clock.ms <= Date.parse(range.to);
    clock.advance(range.stepMinutes * 60)
  ) {
    await tick(call);
  }
  return await fireTimesOf(sql, scheduleId);
}

/** Deploy one schedule that keeps every fire time (catch-up all) and tick hourly through `days`. */
async function hourlyFireTimes(
  db: { sql: Sql },
  schedule: Record<string, unknown>,
  from: string,
  to: string,
): Promise<string[]> {
  const clock = Clock.at(from);
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const d = await deploy(call, {
    name: "dst",
    schedules: [{ catchup: "all", max_late: 86_400, ...schedule }],
  });
  return await tickThrough(db.sql, call, clock, onlySchedule(d).id, { from, to, stepMinutes: 60 });
}

dbTest(
  "Asia/Kolkata cron: weekday runs at 15:30 IST (10:00Z), created on time by the tick",
  async (db) => {
    const clock = Clock.at("2026-11-23T09:00:00Z"); // Monday
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const d = await deploy(call, {
      name: "kolkata",
      pool: "default",
      queue: "reports",
      tags: ["in"],
      parameters: { region: "IN", day: "today" },
      schedules: [{
        cron: "30 15 * * 1-5",
        timezone: "Asia/Kolkata",
        parameters: { day: "weekday" },
      }],
    });
    const id = onlySchedule(d).id;
    // A tick a minute and a half early creates nothing yet; the next one creates the run.
    clock.set("2026-11-23T09:58:29Z");
    assert.equal((await tick(call)).created, 0);
    clock.set("2026-11-23T09:59:00Z");
    assert.equal((await tick(call)).created, 1);
    assert.equal((await tick(call)).created, 0, "a repeated tick creates nothing");
    const [run] = await runsOf(db.sql, id);
    assert.equal(run.scheduled_time, "2026-11-23T10:00:00.000Z");
    assert.deepEqual(run.parameters, { region: "IN", day: "weekday" });
    assert.equal(run.queue, "reports");
    assert.deepEqual(run.tags, ["in"]);
    const after = await call("GET", "/deploy/deployments/kolkata");
    assert.equal(onlySchedule(after.body).next_fire_at, "2026-11-24T10:00:00.000Z");

    // A tick every 30 minutes for a week (each day's 09:59 tick sees 10:00 within its
    // horizon): exactly the weekdays, each at 10:00Z, and nothing on the weekend.
    const times = await tickThrough(db.sql, call, clock, id, {
      from: "2026-11-23T09:59:00Z",
      to: "2026-11-30T09:59:00Z",
      stepMinutes: 30,
    });
    assert.deepEqual(times, [
      "2026-11-23T10:00:00.000Z",
      "2026-11-24T10:00:00.000Z",
      "2026-11-25T10:00:00.000Z",
      "2026-11-26T10:00:00.000Z",
      "2026-11-27T10:00:00.000Z",
      "2026-11-30T10:00:00.000Z",
    ]);
  },
);

dbTest(
  "interval: every 15 minutes on the anchor's grid; 6-field cron fires on its seconds",
  async (db) => {
    const clock = Clock.at("2026-11-23T08:00:00Z");
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const d = await deploy(call, {
      name: "grid",
      schedules: [
        { interval: 900, anchor: "2026-01-01T00:05:00Z" },
        { cron: "45 */20 8 * * *" },
      ],
    });
    const [interval, seconds] = d.schedules.map((s: { id: string }) => s.id);
    const range = { from: "2026-11-23T08:00:00Z", to: "2026-11-23T08:59:00Z", stepMinutes: 1 };
    assert.deepEqual(await tickThrough(db.sql, call, clock, interval, range), [
      "2026-11-23T08:05:00.000Z",
      "2026-11-23T08:20:00.000Z",
      "2026-11-23T08:35:00.000Z",
      "2026-11-23T08:50:00.000Z",
    ]);
    assert.deepEqual(await fireTimesOf(db.sql, seconds), [
      "2026-11-23T08:00:45.000Z",
      "2026-11-23T08:20:45.000Z",
      "2026-11-23T08:40:45.000Z",
    ]);
  },
);

dbTest("rrule in America/New_York keeps 07:30 local across the end of DST", async (db) => {
  const times = await hourlyFireTimes(
    db,
    { rrule: "DTSTART;TZID=America/New_York:20261026T073000\nRRULE:FREQ=DAILY;BYDAY=MO,WE,FR" },
    "2026-10-28T00:00:00Z",
    "2026-11-04T00:00:00Z",
  );
  assert.deepEqual(times, [
    "2026-10-28T11:30:00.000Z", // Wed, EDT (UTC-4)
    "2026-10-30T11:30:00.000Z", // Fri, EDT
    "2026-11-02T12:30:00.000Z", // Mon, EST (UTC-5)
  ]);
});

dbTest("Europe/Berlin spring forward: 02:30 does not exist and fires at 03:00 CEST", async (db) => {
  const times = await hourlyFireTimes(
    db,
    { cron: "30 2 * * *", timezone: "Europe/Berlin" },
    "2026-03-27T12:00:00Z",
    "2026-03-31T00:00:00Z",
  );
  assert.deepEqual(times, [
    "2026-03-28T01:30:00.000Z", // 02:30 CET
    "2026-03-29T01:00:00.000Z", // 03:00 CEST, the end of the gap
    "2026-03-30T00:30:00.000Z", // 02:30 CEST
  ]);
});

dbTest(
  "Europe/Berlin fall back: each wall time fires once, at its first occurrence",
  async (db) => {
    const times = await hourlyFireTimes(
      db,
      { cron: "*/30 2 * * *", timezone: "Europe/Berlin" },
      "2026-10-24T20:00:00Z",
      "2026-10-25T06:00:00Z",
    );
    assert.deepEqual(times, ["2026-10-25T00:00:00.000Z", "2026-10-25T00:30:00.000Z"]);
  },
);

dbTest("America/New_York: the spring gap and the repeated autumn hour", async (db) => {
  const spring = await hourlyFireTimes(
    db,
    { cron: "30 2 * * *", timezone: "America/New_York" },
    "2026-03-07T00:00:00Z",
    "2026-03-10T00:00:00Z",
  );
  assert.deepEqual(spring, [
    "2026-03-07T07:30:00.000Z", // 02:30 EST
    "2026-03-08T07:00:00.000Z", // 03:00 EDT: 02:30 did not exist
    "2026-03-09T06:30:00.000Z", // 02:30 EDT
  ]);
});

dbTest("America/New_York fall back: 01:30 fires once, in EDT", async (db) => {
  const times = await hourlyFireTimes(
    db,
    { cron: "30 1 * * *", timezone: "America/New_York" },
    "2026-10-31T00:00:00Z",
    "2026-11-02T12:00:00Z",
  );
  assert.deepEqual(times, [
    "2026-10-31T05:30:00.000Z",
    "2026-11-01T05:30:00.000Z", // first 01:30 (EDT); the EST one does not fire
    "2026-11-02T06:30:00.000Z",
  ]);
});
