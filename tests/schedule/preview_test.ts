import assert from "node:assert/strict";
import { preview } from "../../shared/schedule/mod.ts";
import { at, spec } from "./helpers.ts";

Deno.test("preview shows UTC and local times with the zone's offset", () => {
  const s = spec({ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" });
  assert.deepEqual(preview(s, at("2026-11-20T12:00:00Z"), 2), [
    { utc: "2026-11-23T10:00:00.000Z", local: "2026-11-23T15:30:00+05:30" },
    { utc: "2026-11-24T10:00:00.000Z", local: "2026-11-24T15:30:00+05:30" },
  ]);
});

Deno.test("preview across a DST switch shows the offset changing", () => {
  const s = spec({ rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone: "Europe/Berlin" });
  assert.deepEqual(preview(s, at("2026-03-28T12:00:00Z"), 2), [
    { utc: "2026-03-29T01:00:00.000Z", local: "2026-03-29T03:00:00+02:00" },
    { utc: "2026-03-30T00:30:00.000Z", local: "2026-03-30T02:30:00+02:00" },
  ]);
  const ny = spec({
    interval: 86_400,
    anchor: "2026-11-01T04:00:00Z",
    timezone: "America/New_York",
  });
  assert.deepEqual(preview(ny, at("2026-10-31T12:00:00Z"), 2).map((p) => p.local), [
    "2026-11-01T00:00:00-04:00",
    "2026-11-01T23:00:00-05:00",
  ]);
});

Deno.test("preview is capped and stops where the schedule ends", () => {
  assert.equal(preview(spec({ cron: "* * * * *" }), at("2026-01-01T00:00:00Z"), 5000).length, 1000);
  assert.equal(preview(spec({ cron: "* * * * *" }), at("2026-01-01T00:00:00Z"), 0).length, 0);
  const counted = spec({ rrule: "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;COUNT=2" });
  assert.equal(preview(counted, at("2025-01-01T00:00:00Z"), 10).length, 2);
});
