/**
 * The never-fires check of rrules is bounded by count and horizon (issue 10,
 * item 8): impossible calendars are found by arithmetic, and the search for
 * a first instance stops after `FIRST_FIRE_PERIODS` periods.
 */
import assert from "node:assert/strict";
import { parseSchedule } from "../../shared/schedule/parse_schedule.ts";
import { FIRST_FIRE_PERIODS, rruleFireProblem } from "../../shared/schedule/rrule_times.ts";
import type { RRuleSchedule } from "../../shared/schedule/types.ts";

const created = new Date("2026-07-15T10:00:00Z");

function spec(rrule: string): RRuleSchedule {
  const parsed = parseSchedule({ rrule, timezone: "UTC" }, "s", { defaultAnchor: created });
  if (parsed.ok) return parsed.value as RRuleSchedule;
  // Refused: rebuild the spec by hand to look at the reason itself.
  const dtstart = "2026-07-15T00:00:00";
  return {
    kind: "rrule",
    rrule,
    dtstart,
    timezone: "UTC",
    parameters: {},
    active: true,
    catchup: "latest",
    maxLateSeconds: 3600,
  };
}

function refusal(rrule: string): string | null {
  const parsed = parseSchedule({ rrule }, "schedules[0]", { defaultAnchor: created });
  if (parsed.ok) return null;
  assert.equal(parsed.errors[0].path, "schedules[0].rrule");
  return parsed.errors[0].message;
}

Deno.test("days no month has are found by arithmetic, at every FREQ", () => {
  for (const freq of ["YEARLY", "MONTHLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"]) {
    for (const days of ["BYMONTH=2;BYMONTHDAY=30", "BYMONTH=4,6;BYMONTHDAY=31,-31"]) {
      const message = rruleFireProblem(spec(`FREQ=${freq};${days}`));
      assert.match(message ?? "", /no month in BYMONTH has a day in BYMONTHDAY/, freq);
    }
  }
  assert.equal(refusal("FREQ=DAILY;BYMONTHDAY=31"), null, "31st exists in some months");
  assert.equal(refusal("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-29"), null, "leap years");
});

Deno.test("a rule whose first instance lies beyond the search window is refused", () => {
  // Feb 29 on a Monday: next in 2044, 18 years (over 2000 days) away.
  assert.match(
    refusal("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO") ?? "",
    new RegExp(`never fires within ${FIRST_FIRE_PERIODS} repetitions of DAILY`),
  );
  // The leap day itself is 2028: within the window.
  assert.equal(refusal("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29"), null);
  // Every second hour from midnight never lands on 3 o'clock.
  assert.match(refusal("FREQ=HOURLY;INTERVAL=2;BYHOUR=3") ?? "", /never reaches BYHOUR/);
});

Deno.test("sub-daily rules find a matching day first: every minute of June, created in July", () => {
  assert.equal(refusal("FREQ=MINUTELY;BYMONTH=6"), null);
  assert.equal(refusal("FREQ=SECONDLY;BYMONTH=6;BYMONTHDAY=30;BYHOUR=23"), null);
  assert.equal(refusal("FREQ=HOURLY;BYDAY=SU"), null);
  assert.match(refusal("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO") ?? "", /2000 days/);
});

Deno.test("rules that fire keep passing, with COUNT and UNTIL too", () => {
  for (
    const rule of [
      "FREQ=DAILY",
      "FREQ=WEEKLY;BYDAY=MO,WE,FR",
      "FREQ=MONTHLY;BYDAY=-1FR",
      "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25",
      "FREQ=DAILY;COUNT=3",
      "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR",
      "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;UNTIL=20260102T000000Z",
    ]
  ) assert.equal(refusal(rule), null, rule);
});
