import assert from "node:assert/strict";
import {
  formatLocal,
  fromFloating,
  isValidTimeZone,
  offsetAt,
  toFloating,
} from "../../shared/schedule/zone.ts";

const ms = (iso: string) => Date.parse(iso);
/** Floating time of a local wall-clock reading written as `2026-03-29T02:30`. */
const wall = (local: string) => Date.parse(`${local}:00Z`);

Deno.test("isValidTimeZone accepts IANA names and refuses the rest", () => {
  for (const tz of ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Etc/GMT+5"]) {
    assert.equal(isValidTimeZone(tz), true, tz);
  }
  for (const tz of ["Mars/Olympus", "", "+05:30", "Europe/Berlinn", "CEST is not a zone"]) {
    assert.equal(isValidTimeZone(tz), false, tz);
  }
});

Deno.test("offsetAt follows DST in Berlin and New York, and is fixed in Kolkata", () => {
  const hour = 3_600_000;
  assert.equal(offsetAt(ms("2026-01-15T12:00:00Z"), "Europe/Berlin"), hour);
  assert.equal(offsetAt(ms("2026-07-15T12:00:00Z"), "Europe/Berlin"), 2 * hour);
  assert.equal(offsetAt(ms("2026-01-15T12:00:00Z"), "America/New_York"), -5 * hour);
  assert.equal(offsetAt(ms("2026-07-15T12:00:00Z"), "America/New_York"), -4 * hour);
  assert.equal(offsetAt(ms("2026-07-15T12:00:00.750Z"), "Asia/Kolkata"), 5.5 * hour);
});

Deno.test("fromFloating maps an ordinary wall time to its one instant", () => {
  assert.equal(fromFloating(wall("2026-11-23T15:30"), "Asia/Kolkata"), ms("2026-11-23T10:00:00Z"));
  assert.equal(fromFloating(wall("2026-06-01T09:00"), "Europe/Berlin"), ms("2026-06-01T07:00:00Z"));
  assert.equal(toFloating(ms("2026-06-01T07:00:00Z"), "Europe/Berlin"), wall("2026-06-01T09:00"));
});

Deno.test("fromFloating maps a wall time in a spring-forward gap to the end of the gap", () => {
  // Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
  for (const local of ["2026-03-29T02:00", "2026-03-29T02:30", "2026-03-29T02:59"]) {
    assert.equal(fromFloating(wall(local), "Europe/Berlin"), ms("2026-03-29T01:00:00Z"), local);
  }
  assert.equal(fromFloating(wall("2026-03-29T03:00"), "Europe/Berlin"), ms("2026-03-29T01:00:00Z"));
  // New York 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
  assert.equal(
    fromFloating(wall("2026-03-08T02:30"), "America/New_York"),
    ms("2026-03-08T07:00:00Z"),
  );
});

Deno.test("fromFloating maps a wall time that occurs twice to its first occurrence", () => {
  // Berlin 2026-10-25: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET).
  assert.equal(fromFloating(wall("2026-10-25T02:30"), "Europe/Berlin"), ms("2026-10-25T00:30:00Z"));
  // New York 2026-11-01: 01:30 EDT (05:30Z), then 01:30 EST (06:30Z).
  assert.equal(
    fromFloating(wall("2026-11-01T01:30"), "America/New_York"),
    ms("2026-11-01T05:30:00Z"),
  );
  assert.equal(
    toFloating(ms("2026-11-01T06:30:00Z"), "America/New_York"),
    wall("2026-11-01T01:30"),
  );
});

Deno.test("formatLocal writes the local time with its offset", () => {
  assert.equal(
    formatLocal(ms("2026-11-23T10:00:00Z"), "Asia/Kolkata"),
    "2026-11-23T15:30:00+05:30",
  );
  assert.equal(
    formatLocal(ms("2026-03-29T01:00:00Z"), "Europe/Berlin"),
    "2026-03-29T03:00:00+02:00",
  );
  assert.equal(
    formatLocal(ms("2026-11-01T06:30:00Z"), "America/New_York"),
    "2026-11-01T01:30:00-05:00",
  );
  assert.equal(formatLocal(ms("2026-01-01T00:00:00.250Z"), "UTC"), "2026-01-01T00:00:00.250+00:00");
});
