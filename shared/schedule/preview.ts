/**
 * The preview a deploy response or dashboard shows: the next fire times of a
 * schedule in UTC and on the schedule's own wall clock, so that a user can
 * see at a glance that `30 15 * * 1-5` in Asia/Kolkata means 10:00Z.
 */
import { nextFireTimes } from "./fire_times.ts";
import type { ScheduleSpec } from "./types.ts";
import { formatLocal } from "./zone.ts";

/** One previewed fire time. */
export interface PreviewEntry {
  /** `2026-11-23T10:00:00.000Z` */
  utc: string;
  /** Local time with its offset in the schedule's zone: `2026-11-23T15:30:00+05:30`. */
  local: string;
}

/**
 * The next `count` fire times strictly after `after` (capped at
 * `MAX_FIRE_TIMES`; fewer when the schedule ends). An inactive schedule is
 * previewed all the same: the preview says when it *would* fire.
 */
export function preview(spec: ScheduleSpec, after: Date, count: number): PreviewEntry[] {
  return nextFireTimes(spec, after, count).map((t) => ({
    utc: t.toISOString(),
    local: formatLocal(t.getTime(), spec.timezone),
  }));
}
