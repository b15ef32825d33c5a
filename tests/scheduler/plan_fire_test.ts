/** The tick's on-time shortcut gives exactly what `dueFireTimes` gives. */
import assert from "node:assert/strict";
import {
  dueFireTimes,
  nextFireTime,
  parseSchedule,
  type ScheduleSpec,
} from "../../shared/schedule/mod.ts";
import { fireTimesDue } from "../../shared/scheduler/plan_fire.ts";

function spec(input: unknown): ScheduleSpec {
  const r = parseSchedule(input, "", { defaultAnchor: new Date("2026-03-01T00:00:00Z") });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const SPECS = [
  spec({ cron: "*/7 * * * *", timezone: "Europe/Berlin" }),
  spec({ cron: "*/20 * * * * *", timezone: "Asia/Kolkata" }),
  spec({ cron: "30 2 * * *", timezone: "Europe/Berlin" }),
  spec({ cron: "*/30 1 * * *", timezone: "America/New_York" }),
  spec({ interval: 45, anchor: "2026-01-01T00:00:07Z" }),
  spec({ rrule: "FREQ=MINUTELY;INTERVAL=13", timezone: "America/New_York" }),
];

// Around both 2026 DST changes in Europe and America, and an ordinary day.
const STARTS = [
  "2026-03-08T06:00:00Z",
  "2026-03-29T00:20:00Z",
  "2026-10-25T00:10:00Z",
  "2026-11-01T05:10:00Z",
  "2026-11-23T09:58:00Z",
];

Deno.test("on-time ticks: the shortcut and dueFireTimes agree, across DST changes", () => {
  let compared = 0;
  for (const s of SPECS) {
    for (const start of STARTS) {
      let from = nextFireTime(s, new Date(start))!;
      for (let step = 0; step < 40; step++) {
        // Ticks anywhere from the grace before `from` to just before it, horizons 0-3 min.
        for (
          const [lateMs, horizonMs] of [[59_000, 90_000], [0, 0], [-30_000, 180_000], [
            -90_000,
            90_000,
          ]]
        ) {
          const now = new Date(from.getTime() + lateMs);
          const ctx = { now, horizonMs };
          const fast = fireTimesDue(s, from, ctx);
          const slow = dueFireTimes(s, { nextFireAt: from, now, horizonMs });
          assert.deepEqual(
            fast.fireTimes,
            slow.fireTimes,
            `${start} ${from.toISOString()} ${lateMs}`,
          );
          assert.deepEqual(fast.nextFireAt, slow.nextFireAt);
          compared++;
        }
        from = nextFireTime(s, from)!;
      }
    }
  }
  assert.equal(compared, SPECS.length * STARTS.length * 40 * 4);
});

Deno.test("late ticks still get the catch-up policy", () => {
  const s = { ...spec({ cron: "*/15 * * * *" }), catchup: "latest" as const };
  const from = new Date("2026-11-23T08:15:00Z");
  const now = new Date("2026-11-23T11:10:00Z");
  const due = fireTimesDue(s, from, { now, horizonMs: 90_000 });
  assert.deepEqual(due.fireTimes, [new Date("2026-11-23T11:00:00Z")]);
  assert.deepEqual(due.nextFireAt, new Date("2026-11-23T11:15:00Z"));
});
