/**
 * The typed form of a deployment schedule, as the rest of the code sees it
 * after `parseSchedule` has validated the wire form, and the limits that keep
 * one pathological schedule from stalling a tick.
 */

/** What a tick does with fire times that passed while nothing ticked. */
export type CatchupPolicy = "none" | "latest" | "all";

/** The catch-up policies, in the order the API documents them. */
export const CATCHUP_POLICIES = [
  "none",
  "latest",
  "all",
] as const satisfies readonly CatchupPolicy[];

/** Fields every kind of schedule has. */
export interface ScheduleCommon {
  /** IANA zone the schedule is read in; for `interval` it only shapes `preview`. */
  timezone: string;
  /** Run parameters this schedule overlays on the deployment's defaults. */
  parameters: Record<string, unknown>;
  /** An inactive schedule creates no runs. */
  active: boolean;
  /** Missed fire times: `none` skips them, `latest` runs the newest, `all` runs each. */
  catchup: CatchupPolicy;
  /** With `catchup: "all"`, missed fire times older than this are dropped (seconds). */
  maxLateSeconds: number;
}

/** A cron schedule: 5 fields (minute first) or 6 (second first), read in `timezone`. */
export interface CronSchedule extends ScheduleCommon {
  kind: "cron";
  cron: string;
}

/** Every `intervalSeconds` of elapsed time, on the grid `anchor + k·interval` (any integer k). */
export interface IntervalSchedule extends ScheduleCommon {
  kind: "interval";
  intervalSeconds: number;
  anchor: Date;
}

/** An RFC 5545 recurrence rule, read in `timezone` from a local DTSTART. */
export interface RRuleSchedule extends ScheduleCommon {
  kind: "rrule";
  /** The RRULE value, upper-cased, without the `RRULE:` prefix or a DTSTART line. */
  rrule: string;
  /** DTSTART as local wall-clock time in `timezone`, e.g. `2026-03-23T00:00:00`. */
  dtstart: string;
}

/** A validated schedule, discriminated by `kind`. */
export type ScheduleSpec = CronSchedule | IntervalSchedule | RRuleSchedule;

/** One validation problem; `path` is e.g. `schedules[0].cron`. */
export interface ScheduleError {
  path: string;
  message: string;
}

/** The outcome of validation: a typed value, or every problem found. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: ScheduleError[] };

/** Most fire times any one call returns; a tick handles the rest next time. */
export const MAX_FIRE_TIMES = 1000;

/** Longest interval accepted: 366 days. Longer cadences read better as rrule. */
export const MAX_INTERVAL_SECONDS = 366 * 86_400;

/** Default and largest `max_late`: one hour, and 30 days. */
export const DEFAULT_MAX_LATE_SECONDS = 3600;
export const MAX_MAX_LATE_SECONDS = 30 * 86_400;

/**
 * Largest rrule COUNT. A COUNT rule cannot be fast-forwarded (see
 * `rrule_times.ts`), so every query walks its instances from DTSTART;
 * 10 000 instances cost ~40 ms in rrule.js.
 */
export const MAX_RRULE_COUNT = 10_000;
