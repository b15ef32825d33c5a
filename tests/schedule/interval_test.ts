import assert from "node:assert/strict";
import {
  fireTimesBetween,
  lastFireTimeBefore,
  nextFireTime,
  nextFireTimes,
} from "../../shared/schedule/mod.ts";
import { assertTimes, at, spec } from "./helpers.ts";

Deno.test("an interval fires on the grid of its anchor", () => {
  const s = spec({ interval: 3600, anchor: "2026-01-01T00:15:00Z" });
  assertTimes(nextFireTimes(s, at("2026-06-01T10:20:00Z"), 3), [
    "2026-06-01T11:15:00Z",
    "2026-06-01T12:15:00Z",
    "2026-06-01T13:15:00Z",
  ]);
  // Strictly after: a time on the grid is not its own next fire time.
  assertTimes([nextFireTime(s, at("2026-06-01T11:15:00Z"))], ["2026-06-01T12:15:00Z"]);
});

Deno.test("the grid extends before the anchor", () => {
  const s = spec({ interval: 90, anchor: "2026-01-01T00:00:00Z" });
  assertTimes(nextFireTimes(s, at("2025-12-31T23:57:00Z"), 3), [
    "2025-12-31T23:58:30Z",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:01:30Z",
  ]);
});

Deno.test("an interval counts elapsed time, not wall-clock time, across DST", () => {
  const s = spec({ interval: 3600, anchor: "2026-03-29T00:00:00Z", timezone: "Europe/Berlin" });
  assertTimes(fireTimesBetween(s, at("2026-03-29T00:00:00Z"), at("2026-03-29T03:00:00Z")), [
    "2026-03-29T00:00:00Z",
    "2026-03-29T01:00:00Z",
    "2026-03-29T02:00:00Z",
  ]);
});

Deno.test("an interval without anchor is aligned to the creation time", () => {
  const s = spec({ interval: 600 }, at("2026-04-04T04:04:04Z"));
  assertTimes([nextFireTime(s, at("2026-04-05T00:00:00Z"))], ["2026-04-05T00:04:04Z"]);
});

Deno.test("lastFireTimeBefore finds the latest time in a range, or null", () => {
  const s = spec({ interval: 86_400, anchor: "2026-01-01T06:00:00Z" });
  assertTimes([lastFireTimeBefore(s, at("2026-03-10T06:00:00Z"), at("2026-01-01T00:00:00Z"))], [
    "2026-03-09T06:00:00Z",
  ]);
  assert.equal(lastFireTimeBefore(s, at("2026-03-10T05:00:00Z"), at("2026-03-09T07:00:00Z")), null);
  // A burst denser than the per-call cap: every second of one hour.
  const burst = spec({ cron: "* * 9 * * *" });
  assertTimes([lastFireTimeBefore(burst, at("2026-03-10T23:00:00Z"), at("2026-03-01T00:00:00Z"))], [
    "2026-03-10T09:59:59Z",
  ]);
});
