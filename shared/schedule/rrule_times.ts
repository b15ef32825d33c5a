/**
 * Fire times of an rrule schedule.
 *
 * rrule.js's own TZID support returns "UTC dates that look local" and gets DST
 * wrong, so we give it a floating DTSTART and no TZID (it then works in plain
 * UTC, where no DST exists) and convert each wall-clock instance to an instant
 * with `fromFloating`, which applies the gap and overlap rules.
 *
 * rrule.js always iterates from DTSTART, and only stops on a match: a rule
 * whose DTSTART is a year old costs 2.2 s per query at FREQ=MINUTELY, and a
 * rule that never matches (BYMONTH=2;BYMONTHDAY=30) walks to year 9999 (10 s
 * at FREQ=DAILY). So queries fast-forward DTSTART by whole periods (exact in
 * floating time), and `rruleNeverFires` runs the rule 400-year cycles later,
 * where year 9999 is at most ~500 years away (≤ 0.6 s, once, at validation).
 */
import * as rruleModule from "rrule";
import type { RRuleSchedule } from "./types.ts";
import { parseRRuleText, type RRuleDate, type RRuleText } from "./rrule_text.ts";
import { fromFloating, toFloating } from "./zone.ts";

// rrule ships CommonJS and ESM builds: Deno loads the CommonJS one (everything
// on `default`), esbuild (wrangler) the ESM one (named exports). Take either.
const { RRule } = (rruleModule as unknown as { default?: typeof rruleModule }).default ??
  rruleModule;
const DAY_MS = 86_400_000;
/** 400 Gregorian years: the calendar, weekdays included, repeats exactly after this. */
const CYCLE_MS = 146_097 * DAY_MS;
const PERIOD_MS: Record<string, number> = {
  SECONDLY: 1000,
  MINUTELY: 60_000,
  HOURLY: 3_600_000,
  DAILY: DAY_MS,
  WEEKLY: 7 * DAY_MS,
};

/** A rule ready to run in floating time. */
interface FloatingRule {
  text: RRuleText;
  dtstart: number;
  until?: number;
}

/** Floating milliseconds of a local `2026-03-23T00:00:00` string. */
export function parseLocalIso(local: string): number {
  return Date.parse(`${local}Z`);
}

/** An RRULE date as floating time in `timeZone`; a date-only UNTIL covers its whole day. */
function floatingOf(date: RRuleDate, timeZone: string, endOfDay: boolean): number {
  if (date.utc) return toFloating(date.fields, timeZone);
  return endOfDay && date.dateOnly ? date.fields + DAY_MS - 1 : date.fields;
}

function prepare(spec: RRuleSchedule): FloatingRule {
  const parsed = parseRRuleText(spec.rrule);
  if (!parsed.ok) throw new Error(`invalid rrule in a validated schedule: ${parsed.errors[0]}`);
  const text = parsed.value;
  const until = text.until && floatingOf(text.until, spec.timezone, true);
  return { text, dtstart: parseLocalIso(spec.dtstart), until };
}

/** The rrule.js object for `rule`, starting at floating `dtstart` (shifted by `shift`). */
function engine(rule: FloatingRule, dtstart: number, shift = 0) {
  const withoutUntil = rule.text.rule.split(";").filter((p) => !p.startsWith("UNTIL=")).join(";");
  return new RRule({
    ...RRule.parseString(withoutUntil),
    dtstart: new Date(dtstart + shift),
    until: rule.until === undefined ? null : new Date(rule.until + shift),
    tzid: null,
  });
}

/**
 * A DTSTART at most two periods before `query` that yields the same instances
 * after `query`. Only for fixed-length periods and rules without COUNT (COUNT
 * counts from the real DTSTART). Two periods, not one: WEEKLY's first period
 * is cut at DTSTART.
 */
function fastForward(rule: FloatingRule, query: number): number {
  const unit = PERIOD_MS[rule.text.freq];
  if (unit === undefined || rule.text.count !== undefined) return rule.dtstart;
  const period = unit * rule.text.interval;
  const target = query - 2 * period;
  if (target <= rule.dtstart) return rule.dtstart;
  return rule.dtstart + Math.floor((target - rule.dtstart) / period) * period;
}

/**
 * Fire times (epoch ms) strictly after `after` and not after `to` (null: no
 * bound), ascending, at most `limit`.
 */
export function rruleFireTimes(
  spec: RRuleSchedule,
  after: number,
  to: number | null,
  limit: number,
): number[] {
  const rule = prepare(spec);
  const query = toFloating(after, spec.timezone);
  if (limit <= 0 || (rule.until !== undefined && query >= rule.until)) return [];
  const out: number[] = [];
  let last = after;
  engine(rule, fastForward(rule, query)).all((date) => {
    const floating = date.getTime();
    // A wall time not after the query's maps to an instant not after `after`.
    if (floating <= query) return true;
    const instant = fromFloating(floating, spec.timezone);
    if (to !== null && instant > to) return false;
    // Instances in a gap share one instant, and in an overlap may map before
    // `after`: both are skipped so each instant fires once.
    if (instant > last) {
      out.push(instant);
      last = instant;
    }
    return out.length < limit;
  });
  return out;
}

/**
 * True when the rule has no instance within ~100 years of its DTSTART. The
 * search runs whole 400-year cycles later (same calendar, same weekdays), so
 * that rrule.js's walk to year 9999 is short.
 */
export function rruleNeverFires(spec: RRuleSchedule): boolean {
  const rule = prepare(spec);
  const cycles = Math.floor((Date.UTC(9899, 0, 1) - rule.dtstart) / CYCLE_MS);
  const shift = cycles * CYCLE_MS;
  return engine(rule, rule.dtstart, shift).after(new Date(rule.dtstart + shift), true) === null;
}
