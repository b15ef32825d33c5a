/**
 * The scheduling library: pure functions from a schedule and a clock reading
 * to fire times. No database, no HTTP, no runtime globals: `now` is always a
 * parameter.
 *
 * - `parseSchedule` / `ScheduleInputSchema`: validate the wire form (422 paths).
 * - `nextFireTime`, `nextFireTimes`, `fireTimesBetween`: query fire times.
 * - `dueFireTimes`: one tick for one schedule, with catch-up.
 * - `preview`: the next fire times in UTC and local time.
 */
export * from "./types.ts";
export { isValidTimeZone } from "./zone.ts";
export { fireTimesBetween, lastFireTimeBefore, nextFireTime, nextFireTimes } from "./fire_times.ts";
export {
  issuesToErrors,
  joinPath,
  parseSchedule,
  type ParseScheduleOptions,
  type ScheduleInput,
  ScheduleInputSchema,
  scheduleToJson,
} from "./parse_schedule.ts";
export {
  DEFAULT_GRACE_MS,
  type DueFireTimes,
  dueFireTimes,
  type DueFireTimesOptions,
} from "./due_fire_times.ts";
export { preview, type PreviewEntry } from "./preview.ts";
