/**
 * Fire times of any schedule: the one place that dispatches on `kind`.
 *
 * Every query is bounded: at most `MAX_FIRE_TIMES` results per call, and
 * `null` when a schedule has no further fire time (an rrule past its UNTIL or
 * COUNT). Times are `Date`s; the clock is always a parameter.
 */
import { cronFireTimes } from "./cron_times.ts";
import { rruleFireTimes } from "./rrule_times.ts";
import { MAX_FIRE_TIMES, type ScheduleSpec } from "./types.ts";

/** Fire times (epoch ms) in (after, to], ascending, at most `limit`. */
function fireTimesAfter(spec: ScheduleSpec, after: number, to: number | null, limit: number) {
  const capped = Math.max(0, Math.min(Math.floor(limit), MAX_FIRE_TIMES));
  switch (spec.kind) {
    case "cron":
      return cronFireTimes(spec.cron, spec.timezone, after, to, capped);
    case "rrule":
      return rruleFireTimes(spec, after, to, capped);
    case "interval":
      return intervalFireTimes(
        spec.anchor.getTime(),
        spec.intervalSeconds * 1000,
        after,
        to,
        capped,
      );
  }
}

/** Interval fire times are the grid anchor + k·period, for every integer k (also before the anchor). */
function intervalFireTimes(
  anchor: number,
  period: number,
  after: number,
  to: number | null,
  limit: number,
): number[] {
  const out: number[] = [];
  let k = Math.floor((after - anchor) / period) + 1;
  while (out.length < limit) {
    const t = anchor + k++ * period;
    if (to !== null && t > to) break;
    out.push(t);
  }
  return out;
}

/** The first fire time strictly after `after`, or null if the schedule never fires again. */
export function nextFireTime(spec: ScheduleSpec, after: Date): Date | null {
  const [t] = fireTimesAfter(spec, after.getTime(), null, 1);
  return t === undefined ? null : new Date(t);
}

/** The next `count` fire times strictly after `after` (fewer if the schedule ends; capped). */
export function nextFireTimes(spec: ScheduleSpec, after: Date, count: number): Date[] {
  return fireTimesAfter(spec, after.getTime(), null, count).map((t) => new Date(t));
}

/**
 * Fire times `t` with `from <= t < to`, ascending, at most `limit` (capped at
 * `MAX_FIRE_TIMES`). Half-open, so adjacent windows never share a time.
 */
export function fireTimesBetween(
  spec: ScheduleSpec,
  from: Date,
  to: Date,
  limit: number = MAX_FIRE_TIMES,
): Date[] {
  if (to.getTime() <= from.getTime()) return [];
  return fireTimesAfter(spec, from.getTime() - 1, to.getTime() - 1, limit).map((t) => new Date(t));
}

/**
 * The latest fire time `t` with `notBefore <= t < before`, or null.
 *
 * Engines only step forwards, so we look back through windows that double
 * from one minute: a dense schedule is found in the first, small window, and
 * a sparse one costs a few empty windows. Within a window we walk forward in
 * chunks, so a burst of fire times never exceeds the per-call cap.
 */
export function lastFireTimeBefore(spec: ScheduleSpec, before: Date, notBefore: Date): Date | null {
  const end = before.getTime();
  const floor = notBefore.getTime();
  let width = 60_000;
  let windowEnd = end;
  while (windowEnd > floor) {
    const windowStart = Math.max(floor, end - width);
    let found: number | null = null;
    let cursor = windowStart - 1;
    for (;;) {
      const chunk = fireTimesAfter(spec, cursor, windowEnd - 1, MAX_FIRE_TIMES);
      if (chunk.length === 0) break;
      found = chunk[chunk.length - 1];
      cursor = found;
      if (chunk.length < MAX_FIRE_TIMES) break;
    }
    if (found !== null) return new Date(found);
    windowEnd = windowStart;
    width *= 2;
  }
  return null;
}
