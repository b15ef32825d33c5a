/**
 * Shared test helpers: build a validated schedule from its wire form, and
 * compare fire times as ISO strings so failures read as dates.
 */
import assert from "node:assert/strict";
import { parseSchedule, type ScheduleSpec } from "../../shared/schedule/mod.ts";

/** The creation time used by tests unless they say otherwise. */
export const CREATED = new Date("2026-01-01T00:00:00Z");

/** Parse a schedule that must be valid; fails the test with the errors otherwise. */
export function spec(input: Record<string, unknown>, defaultAnchor: Date = CREATED): ScheduleSpec {
  const result = parseSchedule(input, "schedule", { defaultAnchor });
  if (!result.ok) assert.fail(`expected a valid schedule: ${JSON.stringify(result.errors)}`);
  return result.value;
}

/** `new Date(iso)`, shorter. */
export function at(iso: string): Date {
  return new Date(iso);
}

/** Dates as ISO strings without milliseconds, e.g. `2026-03-29T01:00:00Z`. */
export function isos(dates: readonly (Date | null)[]): (string | null)[] {
  return dates.map((d) => (d === null ? null : d.toISOString().replace(".000Z", "Z")));
}

/** Assert that `dates` are exactly the instants `expected` (ISO strings, no milliseconds). */
export function assertTimes(dates: readonly (Date | null)[], expected: readonly (string | null)[]) {
  assert.deepEqual(isos(dates), expected);
}
