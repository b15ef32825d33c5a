/**
 * Fire times of a cron schedule, with croner evaluating the pattern.
 *
 * Croner 11 has its own DST handling, but it treats "fixed-time" patterns
 * (`30 2 * * *`) and "interval" patterns (`*\/30 * * * *`) differently: the
 * latter run twice in a fall-back hour (Berlin 2026-10-25: 02:00 and 02:30
 * CEST, then again CET). Our rule is one fire per wall-clock time for every
 * pattern (as Prefect does), so croner runs in UTC on floating time and
 * `fromFloating` applies the gap and overlap rules, exactly as for rrule.
 */
import { Cron } from "croner";
import { fromFloating, toFloating } from "./zone.ts";

/**
 * Wall-clock readings skipped in a row before giving up: a fall-back hour of a
 * 6-field every-second pattern is 3600; two hours (the largest DST shift in
 * use) is 7200.
 */
const MAX_SKIPPED = 10_000;

/**
 * Compile `pattern` (5 fields, or 6 with seconds first; nicknames such as
 * `@daily`). Throws croner's error for anything else. The job has no
 * callback, so croner never starts a timer.
 */
export function compileCron(pattern: string): Cron {
  // `utcOffset: 0`, not `timezone: "UTC"`: the same answers, without croner's
  // Intl round trips (1000 every-second fire times: 7 ms instead of 60–110 ms).
  return new Cron(pattern, { utcOffset: 0, mode: "5-or-6-parts", paused: true });
}

/** True when the pattern matches no date at all (e.g. `0 0 30 2 *`). */
export function cronNeverFires(pattern: string): boolean {
  return compileCron(pattern).nextRun(new Date(Date.UTC(2000, 0, 1))) === null;
}

/**
 * Fire times (epoch ms) strictly after `after` and not after `to` (null: no
 * bound), ascending, at most `limit`.
 */
export function cronFireTimes(
  pattern: string,
  timeZone: string,
  after: number,
  to: number | null,
  limit: number,
): number[] {
  const cron = compileCron(pattern);
  const out: number[] = [];
  let cursor = toFloating(after, timeZone);
  let last = after;
  let skipped = 0;
  while (out.length < limit && skipped < MAX_SKIPPED) {
    const next = cron.nextRun(new Date(cursor));
    if (next === null) break;
    cursor = next.getTime();
    const instant = fromFloating(cursor, timeZone);
    if (to !== null && instant > to) break;
    // Wall times in a gap share the instant after it; the second pass of an
    // overlap maps to the first pass, which is not after `last`.
    if (instant <= last) {
      skipped++;
      continue;
    }
    out.push(instant);
    last = instant;
    skipped = 0;
  }
  return out;
}
