import assert from "node:assert/strict";
import { z } from "zod";
import {
  issuesToErrors,
  parseSchedule,
  ScheduleInputSchema,
  type ScheduleSpec,
  scheduleToJson,
} from "../../shared/schedule/mod.ts";
import { at, CREATED, spec } from "./helpers.ts";

/** The errors of an input that must be invalid, as `path: message` strings. */
function errorsOf(input: unknown, path = "schedules[0]"): string[] {
  const result = parseSchedule(input, path, { defaultAnchor: CREATED });
  if (result.ok) assert.fail(`expected errors for ${JSON.stringify(input)}`);
  return result.errors.map((e) => `${e.path}: ${e.message}`);
}

/** Assert that some error sits at `path` and its message contains `text`. */
function assertError(input: unknown, path: string, text: string, prefix = "schedules[0]") {
  const errors = errorsOf(input, prefix);
  assert.ok(
    errors.some((e) => e.startsWith(`${path}: `) && e.includes(text)),
    `no error at ${path} containing "${text}" in ${JSON.stringify(errors)}`,
  );
}

Deno.test("a cron schedule gets the documented defaults", () => {
  assert.deepEqual(spec({ cron: "0 9 * * *" }), {
    kind: "cron",
    cron: "0 9 * * *",
    timezone: "UTC",
    parameters: {},
    active: true,
    catchup: "latest",
    maxLateSeconds: 3600,
  });
});

Deno.test("every field of the wire form is read", () => {
  const s = spec({
    interval: 900,
    anchor: "2026-02-01T10:00:00+01:00",
    timezone: "Europe/Berlin",
    parameters: { day: "2026-11-22" },
    active: false,
    catchup: "all",
    max_late: 600,
  });
  assert.deepEqual(s, {
    kind: "interval",
    intervalSeconds: 900,
    anchor: at("2026-02-01T09:00:00Z"),
    timezone: "Europe/Berlin",
    parameters: { day: "2026-11-22" },
    active: false,
    catchup: "all",
    maxLateSeconds: 600,
  });
});

Deno.test("an interval without anchor is anchored at the creation time; null means absent", () => {
  const s = spec(
    { interval: 3600, anchor: null, timezone: null, catchup: null },
    at("2026-03-03T03:03:03Z"),
  );
  assert.equal(s.kind === "interval" && s.anchor.toISOString(), "2026-03-03T03:03:03.000Z");
  assert.equal(s.timezone, "UTC");
});

Deno.test("read-only fields of a GET response are accepted and ignored", () => {
  const s = spec({ cron: "@hourly", id: "7b0c…", next_fire_at: "2026-01-01T01:00:00Z" });
  assert.equal(s.kind, "cron");
});

Deno.test("invalid cron, time zone and rrule are reported on their own paths", () => {
  assertError({ cron: "61 * * * *" }, "schedules[0].cron", "invalid cron expression");
  assertError({ cron: "not a cron" }, "schedules[0].cron", "invalid cron expression");
  assertError({ cron: "0 0 0 * * * 2030" }, "schedules[0].cron", "invalid cron expression");
  assertError(
    { cron: "0 9 * * *", timezone: "Mars/Olympus" },
    "schedules[1].timezone",
    "unknown time zone",
    "schedules[1]",
  );
  assertError({ rrule: "FREQ=SOMETIMES" }, "schedules[2].rrule", "unknown FREQ", "schedules[2]");
  assertError({ rrule: "BYDAY=MO" }, "schedules[0].rrule", "FREQ is required");
  assertError({ rrule: "FREQ=DAILY;COUNT=abc" }, "schedules[0].rrule", "COUNT");
  assertError({ rrule: "FREQ=DAILY;BYDAY=XX" }, "schedules[0].rrule", "BYDAY");
  assertError({ rrule: "FREQ=DAILY;BYHOUR=24" }, "schedules[0].rrule", "BYHOUR");
  assertError({ rrule: "FREQ=DAILY;BYDAY=1MO" }, "schedules[0].rrule", "numbered BYDAY");
  assertError({ rrule: "FREQ=WEEKLY;BYMONTHDAY=1" }, "schedules[0].rrule", "BYMONTHDAY cannot");
  assertError(
    { rrule: "FREQ=DAILY;COUNT=2;UNTIL=20260101" },
    "schedules[0].rrule",
    "COUNT and UNTIL",
  );
  assertError({ rrule: "FREQ=DAILY;COUNT=100000" }, "schedules[0].rrule", "COUNT must be");
  assertError({ rrule: "FREQ=DAILY;FOO=1" }, "schedules[0].rrule", "unknown RRULE property FOO");
  assertError(
    { rrule: "RRULE:FREQ=DAILY\nEXDATE:20260102T000000Z" },
    "schedules[0].rrule",
    "EXDATE",
  );
  assertError(
    { rrule: "DTSTART:20260230T000000\nRRULE:FREQ=DAILY" },
    "schedules[0].rrule",
    "DTSTART",
  );
  assertError(
    { rrule: "DTSTART;TZID=Mars/X:20260101T000000\nRRULE:FREQ=DAILY" },
    "schedules[0].rrule",
    "TZID",
  );
  assertError({ rrule: "" }, "schedules[0].rrule", "RRULE is missing");
});

Deno.test("exactly one of cron, interval and rrule", () => {
  assertError(
    { cron: "* * * * *", interval: 60 },
    "schedules[0].interval",
    "only one of cron, interval or rrule",
  );
  assertError({ interval: 60, rrule: "FREQ=DAILY" }, "schedules[0].rrule", "only one of");
  assertError(
    { timezone: "UTC" },
    "schedules[0]",
    "exactly one of cron, interval or rrule is required",
  );
});

Deno.test("schedules that never fire are refused", () => {
  assertError({ cron: "0 0 30 2 *" }, "schedules[0].cron", "never fires");
  assertError(
    { rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30" },
    "schedules[0].rrule",
    "never fires",
  );
  assertError(
    { rrule: "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;UNTIL=20251231T000000Z" },
    "schedules[0].rrule",
    "never fires",
  );
  // DAILY;INTERVAL=7 from a Thursday only ever lands on Thursdays.
  assertError({ rrule: "FREQ=DAILY;INTERVAL=7;BYDAY=MO" }, "schedules[0].rrule", "never fires");
});

Deno.test("a DAILY rrule on a day that does not exist (April 31) never fires", () => {
  assertError({ rrule: "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31" }, "schedules[0].rrule", "never fires");
});

Deno.test("other fields are checked too, each on its path", () => {
  assertError({ interval: 0 }, "schedules[0].interval", "");
  assertError({ interval: 1.5 }, "schedules[0].interval", "int");
  assertError({ interval: 366 * 86_400 + 1 }, "schedules[0].interval", "");
  assertError({ interval: "60" }, "schedules[0].interval", "expected number");
  assertError({ interval: 60, anchor: "yesterday" }, "schedules[0].anchor", "ISO 8601");
  assertError({ interval: 60, anchor: "2026-01-01T00:00:00" }, "schedules[0].anchor", "offset");
  assertError({ interval: 60, anchor: "1900-01-01T00:00:00Z" }, "schedules[0].anchor", "1970");
  assertError(
    { rrule: "DTSTART:18000101T000000Z\nRRULE:FREQ=DAILY" },
    "schedules[0].rrule",
    "1970",
  );
  assertError(
    { cron: "* * * * *", anchor: "2026-01-01T00:00:00Z" },
    "schedules[0].anchor",
    "interval and rrule",
  );
  assertError(
    { rrule: "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", anchor: "2026-01-01T00:00:00Z" },
    "schedules[0].anchor",
    "not both",
  );
  assertError(
    { rrule: "DTSTART;TZID=Europe/Berlin:20260101T000000\nRRULE:FREQ=DAILY", timezone: "UTC" },
    "schedules[0].timezone",
    "TZID",
  );
  assertError({ cron: "* * * * *", catchup: "sometimes" }, "schedules[0].catchup", "none");
  assertError({ cron: "* * * * *", max_late: -1 }, "schedules[0].max_late", "");
  assertError({ cron: "* * * * *", parameters: [1, 2] }, "schedules[0].parameters", "");
  assertError({ cron: "* * * * *", active: "yes" }, "schedules[0].active", "boolean");
  assertError({ cron: "* * * * *", is_active: true }, "schedules[0].is_active", "unknown field");
  assertError(null, "schedules[0]", "expected object");
  assertError(["* * * * *"], "schedules[0]", "expected object");
});

Deno.test("an empty path prefix gives bare field names", () => {
  assertError({ cron: "nope" }, "cron", "invalid cron", "");
});

Deno.test("the zod schema embeds in a deployment schema and keeps the paths", () => {
  const Deployment = z.object({ name: z.string(), schedules: z.array(ScheduleInputSchema) });
  const result = Deployment.safeParse({
    name: "etl",
    schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" }, {
      interval: 60,
      timezone: "Nowhere/Land",
    }],
  });
  assert.equal(result.success, false);
  assert.deepEqual(issuesToErrors("", result.error!.issues).map((e) => e.path), [
    "schedules[1].timezone",
  ]);
});

Deno.test("scheduleToJson reads back to the same spec, whatever the creation time", () => {
  const specs: ScheduleSpec[] = [
    spec({ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata", parameters: { a: 1 } }),
    spec({ interval: 3600, catchup: "all", max_late: 120 }, at("2026-05-05T05:05:05Z")),
    spec(
      { rrule: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", timezone: "Europe/Berlin" },
      at("2026-05-05T23:30:00Z"),
    ),
    spec({ rrule: "DTSTART:20260601T070000Z\nRRULE:FREQ=DAILY", timezone: "America/New_York" }),
  ];
  for (const s of specs) {
    const json = scheduleToJson(s);
    assert.deepEqual(spec(json, at("2030-01-01T00:00:00Z")), s, JSON.stringify(json));
  }
  // Berlin was already on 2026-05-06 when the rrule was created at 23:30Z.
  assert.equal(
    scheduleToJson(specs[2]).rrule,
    "DTSTART;TZID=Europe/Berlin:20260506T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9",
  );
});
