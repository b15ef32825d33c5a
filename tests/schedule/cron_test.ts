import assert from "node:assert/strict";
import { fireTimesBetween, nextFireTime, nextFireTimes } from "../../shared/schedule/mod.ts";
import { assertTimes, at, spec } from "./helpers.ts";

Deno.test("a 5-field cron fires on whole minutes, strictly after the given time", () => {
  const s = spec({ cron: "*/15 * * * *" });
  assertTimes(nextFireTimes(s, at("2026-05-01T10:00:00Z"), 3), [
    "2026-05-01T10:15:00Z",
    "2026-05-01T10:30:00Z",
    "2026-05-01T10:45:00Z",
  ]);
  assertTimes([nextFireTime(s, at("2026-05-01T10:14:59.999Z"))], ["2026-05-01T10:15:00Z"]);
});

Deno.test("a 6-field cron has seconds first", () => {
  const s = spec({ cron: "30 */5 * * * *" });
  assertTimes(nextFireTimes(s, at("2026-05-01T10:00:30Z"), 3), [
    "2026-05-01T10:05:30Z",
    "2026-05-01T10:10:30Z",
    "2026-05-01T10:15:30Z",
  ]);
});

Deno.test("cron nicknames work", () => {
  assertTimes([nextFireTime(spec({ cron: "@daily" }), at("2026-05-01T10:00:00Z"))], [
    "2026-05-02T00:00:00Z",
  ]);
});

Deno.test("Asia/Kolkata `30 15 * * 1-5` fires at 10:00Z on weekdays only", () => {
  const s = spec({ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" });
  // 2026-11-20 is a Friday.
  assertTimes(nextFireTimes(s, at("2026-11-20T00:00:00Z"), 4), [
    "2026-11-20T10:00:00Z",
    "2026-11-23T10:00:00Z",
    "2026-11-24T10:00:00Z",
    "2026-11-25T10:00:00Z",
  ]);
});

Deno.test("cron in Berlin: a daily time in the spring-forward gap fires once, at 03:00 local", () => {
  for (const cron of ["30 2 * * *", "0 30 2 * * *"]) {
    const s = spec({ cron, timezone: "Europe/Berlin" });
    assertTimes(nextFireTimes(s, at("2026-03-27T12:00:00Z"), 3), [
      "2026-03-28T01:30:00Z", // 02:30 CET
      "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST
      "2026-03-30T00:30:00Z", // 02:30 CEST
    ]);
  }
});

Deno.test("cron in Berlin: times inside the gap collapse into one fire at the end of the gap", () => {
  const s = spec({ cron: "*/30 * * * *", timezone: "Europe/Berlin" });
  assertTimes(fireTimesBetween(s, at("2026-03-29T00:00:00Z"), at("2026-03-29T02:00:00Z")), [
    "2026-03-29T00:00:00Z", // 01:00 CET
    "2026-03-29T00:30:00Z", // 01:30 CET
    "2026-03-29T01:00:00Z", // 02:00, 02:30 and 03:00 local: one fire at 03:00 CEST
    "2026-03-29T01:30:00Z", // 03:30 CEST
  ]);
});

Deno.test("cron in Berlin: a daily time in the fall-back overlap fires once, the first time", () => {
  const s = spec({ cron: "30 2 * * *", timezone: "Europe/Berlin" });
  assertTimes(nextFireTimes(s, at("2026-10-24T12:00:00Z"), 2), [
    "2026-10-25T00:30:00Z", // 02:30 CEST; not again at 01:30Z (02:30 CET)
    "2026-10-26T01:30:00Z",
  ]);
});

Deno.test("cron in Berlin: a sub-hourly cron does not repeat the fall-back hour", () => {
  // croner alone would fire at 01:00Z and 01:30Z too (02:00 and 02:30 CET).
  const s = spec({ cron: "*/30 * * * *", timezone: "Europe/Berlin" });
  assertTimes(fireTimesBetween(s, at("2026-10-24T23:30:00Z"), at("2026-10-25T02:31:00Z")), [
    "2026-10-24T23:30:00Z", // 01:30 CEST
    "2026-10-25T00:00:00Z", // 02:00 CEST
    "2026-10-25T00:30:00Z", // 02:30 CEST
    "2026-10-25T02:00:00Z", // 03:00 CET
    "2026-10-25T02:30:00Z", // 03:30 CET
  ]);
  // Asked from inside the repeated hour, the next fire is after it.
  assertTimes([nextFireTime(s, at("2026-10-25T01:10:00Z"))], ["2026-10-25T02:00:00Z"]);
});

Deno.test("cron in New York: spring forward and fall back", () => {
  const spring = spec({ cron: "30 2 * * *", timezone: "America/New_York" });
  assertTimes(nextFireTimes(spring, at("2026-03-07T00:00:00Z"), 3), [
    "2026-03-07T07:30:00Z", // 02:30 EST
    "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
    "2026-03-09T06:30:00Z", // 02:30 EDT
  ]);
  const fall = spec({ cron: "30 1 * * *", timezone: "America/New_York" });
  assertTimes(nextFireTimes(fall, at("2026-10-31T00:00:00Z"), 3), [
    "2026-10-31T05:30:00Z",
    "2026-11-01T05:30:00Z", // 01:30 EDT only, not 01:30 EST (06:30Z)
    "2026-11-02T06:30:00Z",
  ]);
  const hourly = spec({ cron: "0 * * * *", timezone: "America/New_York" });
  assertTimes(fireTimesBetween(hourly, at("2026-11-01T04:00:00Z"), at("2026-11-01T08:00:00Z")), [
    "2026-11-01T04:00:00Z", // 00:00 EDT
    "2026-11-01T05:00:00Z", // 01:00 EDT
    "2026-11-01T07:00:00Z", // 02:00 EST: 01:00 EST (06:00Z) is the repeat
  ]);
});

Deno.test("fireTimesBetween is half-open and honours its limit", () => {
  const s = spec({ cron: "* * * * *" });
  const from = at("2026-05-01T10:00:00Z");
  const to = at("2026-05-01T10:03:00Z");
  assertTimes(fireTimesBetween(s, from, to), [
    "2026-05-01T10:00:00Z",
    "2026-05-01T10:01:00Z",
    "2026-05-01T10:02:00Z",
  ]);
  assert.equal(fireTimesBetween(s, from, to, 2).length, 2);
  assert.equal(fireTimesBetween(s, to, from).length, 0);
});

Deno.test("any one call returns at most 1000 fire times", () => {
  const s = spec({ cron: "* * * * * *" });
  assert.equal(nextFireTimes(s, at("2026-05-01T00:00:00Z"), 5000).length, 1000);
  assert.equal(
    fireTimesBetween(s, at("2026-05-01T00:00:00Z"), at("2026-05-02T00:00:00Z")).length,
    1000,
  );
});

Deno.test("a cron with day-of-month and day-of-week fires on either (Vixie cron)", () => {
  const s = spec({ cron: "0 0 13 * 5" });
  // 2026-02-06 is a Friday; the 13th (also a Friday) is the next.
  assertTimes(nextFireTimes(s, at("2026-02-01T00:00:00Z"), 3), [
    "2026-02-06T00:00:00Z",
    "2026-02-13T00:00:00Z",
    "2026-02-20T00:00:00Z",
  ]);
});
