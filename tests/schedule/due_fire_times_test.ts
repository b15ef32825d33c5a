import assert from "node:assert/strict";
import { dueFireTimes, nextFireTime, type ScheduleSpec } from "../../shared/schedule/mod.ts";
import { assertTimes, at, isos, spec } from "./helpers.ts";

const MINUTE = 60_000;
/** Every minute; the last tick stored 09:00, then nothing ticked for three hours. */
const outage = {
  nextFireAt: at("2026-05-01T09:00:00Z"),
  now: at("2026-05-01T12:00:30Z"),
  horizonMs: 5 * MINUTE,
  graceMs: 0,
};
const everyMinute = (extra: Record<string, unknown>) => spec({ cron: "* * * * *", ...extra });
const upcoming = [
  "2026-05-01T12:01:00Z",
  "2026-05-01T12:02:00Z",
  "2026-05-01T12:03:00Z",
  "2026-05-01T12:04:00Z",
  "2026-05-01T12:05:00Z",
];

Deno.test("after a 3 h outage, catchup none creates only the upcoming runs", () => {
  const due = dueFireTimes(everyMinute({ catchup: "none" }), outage);
  assertTimes(due.fireTimes, upcoming);
  assertTimes([due.nextFireAt], ["2026-05-01T12:06:00Z"]);
  assert.equal(due.skipped, true);
});

Deno.test("after a 3 h outage, catchup latest (the default) adds the most recent missed time", () => {
  const s = everyMinute({});
  assert.equal(s.catchup, "latest");
  const due = dueFireTimes(s, outage);
  assertTimes(due.fireTimes, ["2026-05-01T12:00:00Z", ...upcoming]);
  assertTimes([due.nextFireAt], ["2026-05-01T12:06:00Z"]);
  assert.equal(due.skipped, true);
});

Deno.test("after a 3 h outage, catchup all runs every missed time up to max_late", () => {
  const due = dueFireTimes(everyMinute({ catchup: "all" }), outage);
  // max_late defaults to 3600 s: 11:00:30 and later, i.e. 11:01 … 12:00.
  assert.equal(due.fireTimes.length, 60 + 5);
  assertTimes(due.fireTimes.slice(0, 2), ["2026-05-01T11:01:00Z", "2026-05-01T11:02:00Z"]);
  assertTimes(due.fireTimes.slice(-6), ["2026-05-01T12:00:00Z", ...upcoming]);
  assert.equal(due.skipped, true);

  const tenMinutes = dueFireTimes(everyMinute({ catchup: "all", max_late: 600 }), outage);
  assertTimes(tenMinutes.fireTimes.slice(0, 1), ["2026-05-01T11:51:00Z"]);
  assert.equal(tenMinutes.fireTimes.length, 10 + 5);

  const everything = dueFireTimes(everyMinute({ catchup: "all", max_late: 86_400 }), outage);
  assert.equal(everything.fireTimes.length, 181 + 5);
  assertTimes(everything.fireTimes.slice(0, 1), ["2026-05-01T09:00:00Z"]);
  assert.equal(everything.skipped, false);
});

Deno.test("catchup all beyond the per-call limit resumes where it stopped", () => {
  const s = everyMinute({ catchup: "all", max_late: 86_400 });
  const seen: Date[] = [];
  let nextFireAt: Date | null = outage.nextFireAt;
  for (let tick = 0; tick < 10 && nextFireAt; tick++) {
    const due = dueFireTimes(s, { ...outage, nextFireAt, limit: 50 });
    assert.ok(due.fireTimes.length <= 50);
    seen.push(...due.fireTimes);
    if (due.fireTimes.length < 50) break;
    nextFireAt = due.nextFireAt;
  }
  const all = dueFireTimes(s, outage).fireTimes;
  assert.deepEqual(isos(seen), isos(all));
});

Deno.test("a tick a little late is not an outage: the grace keeps the fire time", () => {
  const s = everyMinute({ catchup: "none" });
  const late = {
    nextFireAt: at("2026-05-01T12:00:00Z"),
    now: at("2026-05-01T12:00:30Z"),
    horizonMs: 0,
  };
  const due = dueFireTimes(s, late);
  assertTimes(due.fireTimes, ["2026-05-01T12:00:00Z"]);
  assertTimes([due.nextFireAt], ["2026-05-01T12:01:00Z"]);
  assert.equal(due.skipped, false);
  // Without grace the same time counts as missed, and `none` drops it.
  assert.deepEqual(dueFireTimes(s, { ...late, graceMs: 0 }).fireTimes, []);
});

Deno.test("a fire time exactly at now + horizon is due; the next one is stored", () => {
  const s = spec({ cron: "0 * * * *" });
  const due = dueFireTimes(s, {
    nextFireAt: at("2026-05-01T12:00:00Z"),
    now: at("2026-05-01T11:00:00Z"),
    horizonMs: 60 * MINUTE,
  });
  assertTimes(due.fireTimes, ["2026-05-01T12:00:00Z"]);
  assertTimes([due.nextFireAt], ["2026-05-01T13:00:00Z"]);
});

Deno.test("nothing is due while next_fire_at lies beyond the horizon", () => {
  const s = spec({ cron: "0 * * * *" });
  const nextFireAt = at("2026-05-01T12:00:00Z");
  const due = dueFireTimes(s, { nextFireAt, now: at("2026-05-01T11:30:00Z"), horizonMs: MINUTE });
  assert.deepEqual(due, { fireTimes: [], nextFireAt, skipped: false });
});

Deno.test("an inactive schedule creates no runs and moves next_fire_at past the horizon", () => {
  const s = everyMinute({ active: false });
  const due = dueFireTimes(s, outage);
  assert.deepEqual(due.fireTimes, []);
  assertTimes([due.nextFireAt], ["2026-05-01T12:06:00Z"]);
  assert.equal(due.skipped, true);
});

Deno.test("a finished rrule stores no next fire time", () => {
  const s = spec({ rrule: "DTSTART:20260501T100000Z\nRRULE:FREQ=HOURLY;COUNT=2" });
  const due = dueFireTimes(s, {
    nextFireAt: at("2026-05-01T10:00:00Z"),
    now: at("2026-05-01T12:00:00Z"),
    horizonMs: 0,
    graceMs: 0,
  });
  assertTimes(due.fireTimes, ["2026-05-01T11:00:00Z"]);
  assert.equal(due.nextFireAt, null);
});

Deno.test("catch-up across a DST gap in Berlin fires the collapsed time once", () => {
  const s: ScheduleSpec = spec({
    cron: "*/30 * * * *",
    timezone: "Europe/Berlin",
    catchup: "all",
    max_late: 7200,
  });
  const due = dueFireTimes(s, {
    nextFireAt: at("2026-03-29T00:30:00Z"),
    now: at("2026-03-29T01:40:00Z"),
    horizonMs: 0,
    graceMs: 0,
  });
  assertTimes(due.fireTimes, [
    "2026-03-29T00:30:00Z",
    "2026-03-29T01:00:00Z",
    "2026-03-29T01:30:00Z",
  ]);
  assertTimes([due.nextFireAt], ["2026-03-29T02:00:00Z"]);
});

Deno.test("latest after a long outage of a sparse schedule still finds the missed time", () => {
  const s = spec({ cron: "0 9 1 * *", catchup: "latest" });
  const due = dueFireTimes(s, {
    nextFireAt: at("2026-01-01T09:00:00Z"),
    now: at("2026-05-20T00:00:00Z"),
    horizonMs: 0,
  });
  assertTimes(due.fireTimes, ["2026-05-01T09:00:00Z"]);
  assert.deepEqual(isos([due.nextFireAt]), isos([nextFireTime(s, at("2026-05-20T00:00:00Z"))]));
});
