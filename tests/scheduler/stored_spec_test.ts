/** Stored specs read back exactly as deployed, whichever way they are rebuilt. */
import assert from "node:assert/strict";
import { parseSchedule, type ScheduleSpec } from "../../shared/schedule/mod.ts";
import {
  identityKey,
  specJson,
  storedSpec,
  timingKey,
} from "../../shared/scheduler/stored_spec.ts";

const created = new Date("2026-11-23T08:00:07.123Z");

function parsed(input: unknown): ScheduleSpec {
  const r = parseSchedule(input, "", { defaultAnchor: created });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

Deno.test("a stored spec reads back as the spec that was deployed", () => {
  for (
    const input of [
      { cron: " 30 15 * * 1-5 ", timezone: "Asia/Kolkata", parameters: { a: [1] } },
      { cron: "0 */20 8 * * *", catchup: "all", max_late: 60, active: false },
      { interval: 900 },
      { interval: 60, anchor: "2026-01-01T00:00:00+05:30", catchup: "none" },
      { rrule: "FREQ=WEEKLY;BYDAY=MO", timezone: "Europe/Berlin" },
      { rrule: "DTSTART;TZID=America/New_York:20261026T073000\nRRULE:FREQ=DAILY" },
    ]
  ) {
    const spec = parsed(input);
    const stored = JSON.parse(JSON.stringify(specJson(spec)));
    assert.deepEqual(storedSpec(stored), spec, JSON.stringify(input));
    // The slow path agrees with the fast one.
    assert.deepEqual(parsed(stored), spec, JSON.stringify(input));
  }
});

Deno.test("identity ignores only active; timing ignores parameters and policies", () => {
  const a = specJson(parsed({ cron: "0 * * * *", parameters: { x: 1 } }));
  const paused = specJson(parsed({ cron: "0 * * * *", parameters: { x: 1 }, active: false }));
  const other = specJson(parsed({ cron: "0 * * * *", parameters: { x: 2 }, catchup: "all" }));
  assert.equal(identityKey(a), identityKey(paused));
  assert.notEqual(identityKey(a), identityKey(other));
  assert.equal(timingKey(a), timingKey(other));
  assert.notEqual(timingKey(a), timingKey(specJson(parsed({ cron: "5 * * * *" }))));
});

Deno.test("a stored spec that does not parse is an error, not a guess", () => {
  assert.throws(() => storedSpec({ cron: "not cron", timezone: 5 }), /does not parse/);
});
