import assert from "node:assert/strict";
import rrule from "rrule";
import { fireTimesBetween, nextFireTime, nextFireTimes } from "../../shared/schedule/mod.ts";
import { assertTimes, at, spec } from "./helpers.ts";

const { RRule } = rrule;

Deno.test("rrule daily on weekdays, in a zone, starts at local midnight of the creation day", () => {
  const s = spec(
    { rrule: "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", timezone: "Asia/Kolkata" },
    at("2026-11-19T12:00:00Z"),
  );
  assert.equal(s.kind === "rrule" && s.dtstart, "2026-11-19T00:00:00");
  // 2026-11-20 is a Friday; midnight in Kolkata is 18:30Z the day before.
  assertTimes(nextFireTimes(s, at("2026-11-19T12:00:00Z"), 3), [
    "2026-11-19T18:30:00Z",
    "2026-11-22T18:30:00Z",
    "2026-11-23T18:30:00Z",
  ]);
});

Deno.test("rrule with BYHOUR in New York keeps 09:00 local across the March switch", () => {
  const s = spec({
    rrule: "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0",
    timezone: "America/New_York",
  });
  assertTimes(nextFireTimes(s, at("2026-03-06T00:00:00Z"), 2), [
    "2026-03-06T14:00:00Z", // Friday 09:00 EST
    "2026-03-09T13:00:00Z", // Monday 09:00 EDT
  ]);
});

Deno.test("rrule in Berlin: spring forward fires once at 03:00, fall back fires once", () => {
  const s = spec({ rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone: "Europe/Berlin" });
  assertTimes(nextFireTimes(s, at("2026-03-27T12:00:00Z"), 3), [
    "2026-03-28T01:30:00Z",
    "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST
    "2026-03-30T00:30:00Z",
  ]);
  assertTimes(nextFireTimes(s, at("2026-10-24T12:00:00Z"), 2), [
    "2026-10-25T00:30:00Z", // 02:30 CEST, not again at 02:30 CET
    "2026-10-26T01:30:00Z",
  ]);
});

Deno.test("rrule in Berlin: instances inside the gap collapse, the repeated hour is skipped", () => {
  const s = spec({ rrule: "FREQ=MINUTELY;INTERVAL=30", timezone: "Europe/Berlin" });
  assertTimes(fireTimesBetween(s, at("2026-03-29T00:30:00Z"), at("2026-03-29T01:31:00Z")), [
    "2026-03-29T00:30:00Z", // 01:30 CET
    "2026-03-29T01:00:00Z", // 02:00, 02:30 and 03:00 local: once, at 03:00 CEST
    "2026-03-29T01:30:00Z",
  ]);
  assertTimes(fireTimesBetween(s, at("2026-10-24T23:30:00Z"), at("2026-10-25T02:31:00Z")), [
    "2026-10-24T23:30:00Z",
    "2026-10-25T00:00:00Z",
    "2026-10-25T00:30:00Z",
    "2026-10-25T02:00:00Z", // 03:00 CET
    "2026-10-25T02:30:00Z",
  ]);
});

Deno.test("rrule in New York with a TZID DTSTART: spring forward and fall back", () => {
  const spring = spec({ rrule: "DTSTART;TZID=America/New_York:20260301T023000\nRRULE:FREQ=DAILY" });
  assert.equal(spring.timezone, "America/New_York");
  assertTimes(nextFireTimes(spring, at("2026-03-07T00:00:00Z"), 3), [
    "2026-03-07T07:30:00Z",
    "2026-03-08T07:00:00Z", // 03:00 EDT
    "2026-03-09T06:30:00Z",
  ]);
  const fall = spec({ rrule: "DTSTART;TZID=America/New_York:20260301T013000\nRRULE:FREQ=DAILY" });
  assertTimes(nextFireTimes(fall, at("2026-10-31T00:00:00Z"), 3), [
    "2026-10-31T05:30:00Z",
    "2026-11-01T05:30:00Z", // 01:30 EDT only
    "2026-11-02T06:30:00Z",
  ]);
});

Deno.test("a UTC DTSTART is read as the local time it denotes", () => {
  const s = spec({
    rrule: "DTSTART:20260601T070000Z\nRRULE:FREQ=WEEKLY",
    timezone: "Europe/Berlin",
  });
  assert.equal(s.kind === "rrule" && s.dtstart, "2026-06-01T09:00:00");
  // Weekly at 09:00 Berlin: 07:00Z in summer, 08:00Z in winter.
  assertTimes([nextFireTime(s, at("2026-11-01T00:00:00Z"))], ["2026-11-02T08:00:00Z"]);
});

Deno.test("an explicit anchor is the rrule's DTSTART", () => {
  const s = spec({ rrule: "FREQ=HOURLY;INTERVAL=6", anchor: "2026-01-01T01:15:00Z" });
  assertTimes(nextFireTimes(s, at("2026-01-01T00:00:00Z"), 3), [
    "2026-01-01T01:15:00Z",
    "2026-01-01T07:15:00Z",
    "2026-01-01T13:15:00Z",
  ]);
});

Deno.test("COUNT and UNTIL end the rule; then there is no next fire time", () => {
  const counted = spec({ rrule: "DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;COUNT=3" });
  assertTimes(nextFireTimes(counted, at("2025-12-31T00:00:00Z"), 10), [
    "2026-01-01T09:00:00Z",
    "2026-01-02T09:00:00Z",
    "2026-01-03T09:00:00Z",
  ]);
  assert.equal(nextFireTime(counted, at("2026-01-03T09:00:00Z")), null);
  // A date-only UNTIL includes its day.
  const until = spec({ rrule: "DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;UNTIL=20260102" });
  assertTimes(nextFireTimes(until, at("2025-12-31T00:00:00Z"), 10), [
    "2026-01-01T09:00:00Z",
    "2026-01-02T09:00:00Z",
  ]);
  const untilZ = spec({
    rrule: "FREQ=DAILY;BYHOUR=9;UNTIL=20260102T080000Z",
    timezone: "Europe/Berlin",
  });
  assertTimes(nextFireTimes(untilZ, at("2025-12-31T00:00:00Z"), 10), [
    "2026-01-01T08:00:00Z",
    "2026-01-02T08:00:00Z", // 09:00 CET is 08:00Z: UNTIL is inclusive
  ]);
});

Deno.test("fast-forwarding an old DTSTART gives the same fire times as walking from it", () => {
  const rules = [
    "FREQ=HOURLY;INTERVAL=5;BYMINUTE=15",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;BYHOUR=6",
    "FREQ=MINUTELY;INTERVAL=7",
    "FREQ=DAILY;INTERVAL=2;BYSETPOS=-1;BYHOUR=1,2,3",
  ];
  const from = at("2027-02-10T03:00:00Z");
  const to = at("2027-05-10T00:00:00Z");
  for (const rule of rules) {
    const dtstart = new Date("2025-06-03T04:05:06Z");
    const s = spec({ rrule: rule, anchor: dtstart.toISOString() });
    const walked = new RRule({ ...RRule.parseString(rule), dtstart }).between(from, to, true);
    const ours = fireTimesBetween(s, from, to);
    assert.ok(walked.length > 2, rule);
    assert.deepEqual(ours.map(String), walked.slice(0, 1000).map(String), rule);
  }
});

Deno.test("a minutely rule with a DTSTART five years back fast-forwards to the right minute", () => {
  const s = spec({ rrule: "FREQ=MINUTELY" }, at("2021-01-01T00:00:00Z"));
  assertTimes([nextFireTime(s, at("2026-05-01T10:00:30Z"))], ["2026-05-01T10:01:00Z"]);
  assert.equal(nextFireTimes(s, at("2026-05-01T10:00:30Z"), 1000).length, 1000);
});
