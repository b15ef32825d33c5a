/**
 * What a scheduler tick does with one schedule: which fire times get runs now,
 * and what to store as the schedule's new `next_fire_at`.
 *
 * The tick creates runs ahead of time, for every fire time up to
 * `now + horizon`. A fire time before `now - grace` was *missed* (nothing
 * ticked while it passed) and the schedule's catch-up policy decides its fate:
 * `none` drops them all, `latest` keeps the newest, `all` keeps those not
 * older than `max_late`. The grace keeps an ordinary late tick (pg_cron's
 * minute tick firing a few seconds after 12:00:00) from counting as an outage.
 */
import { fireTimesBetween, lastFireTimeBefore, nextFireTime } from "./fire_times.ts";
import { MAX_FIRE_TIMES, type ScheduleSpec } from "./types.ts";

/** A fire time less than this before `now` is on time, not missed: one pg_cron tick. */
export const DEFAULT_GRACE_MS = 60_000;

/** Input of `dueFireTimes`. */
export interface DueFireTimesOptions {
  /** The stored `next_fire_at`: the earliest fire time not yet handled. */
  nextFireAt: Date;
  /** The tick's clock. */
  now: Date;
  /** Fire times up to `now + horizonMs` (inclusive) are handled now; 0 creates runs only when due. */
  horizonMs: number;
  /** Fire times at or after `now - graceMs` are on time (default `DEFAULT_GRACE_MS`). */
  graceMs?: number;
  /** Most fire times returned (default and cap `MAX_FIRE_TIMES`); the rest wait for the next tick. */
  limit?: number;
}

/** Output of `dueFireTimes`. */
export interface DueFireTimes {
  /** Fire times to create runs for, ascending (missed ones kept by the policy, then on-time ones). */
  fireTimes: Date[];
  /** The new `next_fire_at`; null when the schedule never fires again. */
  nextFireAt: Date | null;
  /** True when the policy (or `active: false`) dropped at least one fire time. */
  skipped: boolean;
}

/**
 * Apply one tick to one schedule. Pure: the same inputs give the same answer,
 * so a retried tick (with idempotent run creation) is harmless.
 */
export function dueFireTimes(spec: ScheduleSpec, options: DueFireTimesOptions): DueFireTimes {
  const now = options.now.getTime();
  const end = now + Math.max(0, options.horizonMs);
  const from = options.nextFireAt.getTime();
  if (from > end) return { fireTimes: [], nextFireAt: options.nextFireAt, skipped: false };
  const limit = Math.max(1, Math.min(Math.floor(options.limit ?? MAX_FIRE_TIMES), MAX_FIRE_TIMES));
  const at = (ms: number) => new Date(ms);
  const hasAny = (a: number, b: number) =>
    a < b && fireTimesBetween(spec, at(a), at(b), 1).length > 0;
  if (!spec.active) {
    return {
      fireTimes: [],
      nextFireAt: nextFireTime(spec, at(end)),
      skipped: hasAny(from, end + 1),
    };
  }
  // Missed: [from, lateBefore). On time: [lateBefore, end].
  const lateBefore = Math.max(from, now - Math.max(0, options.graceMs ?? DEFAULT_GRACE_MS));
  const missed = missedToKeep(spec, from, lateBefore, now, limit);
  const skipped = hasAny(from, missed.length > 0 ? missed[0].getTime() : lateBefore);
  const onTime = missed.length < limit
    ? fireTimesBetween(spec, at(lateBefore), at(end + 1), limit - missed.length)
    : [];
  const fireTimes = [...missed, ...onTime];
  // Every fire time after the last one returned and up to `end` was returned,
  // unless the limit cut the list: either way the next one is where to resume.
  const resumeAfter = fireTimes.length > 0 ? fireTimes[fireTimes.length - 1] : at(end);
  return { fireTimes, nextFireAt: nextFireTime(spec, resumeAfter), skipped };
}

/** The missed fire times in [from, lateBefore) that the catch-up policy keeps. */
function missedToKeep(
  spec: ScheduleSpec,
  from: number,
  lateBefore: number,
  now: number,
  limit: number,
): Date[] {
  if (lateBefore <= from) return [];
  switch (spec.catchup) {
    case "none":
      return [];
    case "latest": {
      const latest = lastFireTimeBefore(spec, new Date(lateBefore), new Date(from));
      return latest ? [latest] : [];
    }
    case "all": {
      const oldest = Math.max(from, now - spec.maxLateSeconds * 1000);
      if (oldest >= lateBefore) return [];
      return fireTimesBetween(spec, new Date(oldest), new Date(lateBefore), limit);
    }
  }
}
