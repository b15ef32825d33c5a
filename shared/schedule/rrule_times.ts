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
 * floating time), and validation (`rruleFireProblem`) searches for the first
 * instance only within a bounded window, refusing rules that do not fire in it.
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

/** Longest search for a rule's first instance: this many repetitions of its FREQ × INTERVAL… */
export const FIRST_FIRE_PERIODS = 2_000;
/** …and never further than this many years past DTSTART. */
export const FIRST_FIRE_YEARS = 100;

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Why the rule would never fire, or null when it fires soon enough. Bounded
 * by count and horizon: a rule that never matched (`BYMONTH=2;BYMONTHDAY=30`)
 * used to walk rrule.js to year 9999 (250 ms on the event loop, 100 times in
 * one deploy request). Now:
 *
 * 1. day-of-month filters that no month in BYMONTH has are found by
 *    arithmetic, without running the rule;
 * 2. otherwise the first instance is searched for at most
 *    `FIRST_FIRE_PERIODS` periods (and `FIRST_FIRE_YEARS` years) past
 *    DTSTART; a rule that does not fire in that window is refused too.
 *    Sub-daily rules first look for a matching day with FREQ=DAILY (rrule.js
 *    walks sub-daily rules hour by hour), then for the instance from there.
 */
export function rruleFireProblem(spec: RRuleSchedule): string | null {
  const rule = prepare(spec);
  const options = RRule.parseString(rule.text.rule);
  if (impossibleMonthDays(options)) {
    return "the rrule never fires (no month in BYMONTH has a day in BYMONTHDAY)";
  }
  if (rule.until !== undefined && rule.until < rule.dtstart) {
    return "the rrule never fires (UNTIL is before DTSTART)";
  }
  const stepping = timeFilterProblem(rule, options);
  if (stepping !== null) return stepping;
  const freq = rule.text.freq;
  const period = PERIOD_MS[freq];
  if (period !== undefined && period <= DAY_MS) {
    // DAILY and finer: which days the date filters allow is plain arithmetic
    // (rrule.js would walk every filtered day up to year 9999).
    if (period < DAY_MS && period * rule.text.interval >= DAY_MS && hasDateFilter(options)) {
      return `unsupported rrule: FREQ=${freq} with an INTERVAL of a day or more and day filters ` +
        "(use FREQ=DAILY)";
    }
    if (!setPosReachable(options)) return "the rrule never fires (BYSETPOS beyond the day's times)";
    const step = freq === "DAILY" ? rule.text.interval : 1;
    if (firstMatchingDay(rule, options, step) === null) {
      return `the rrule never fires within ${FIRST_FIRE_PERIODS} ${
        freq === "DAILY" ? "repetitions of DAILY" : "days"
      } of its start`;
    }
    return null;
  }
  // WEEKLY, MONTHLY, YEARLY: few periods per year. rrule.js only stops on a
  // match or at year 9999, so the rule runs whole 400-year cycles later (same
  // calendar, same weekdays), ending its walk at most ~500 years on.
  const cycles = Math.floor((Date.UTC(9999 - FIRST_FIRE_YEARS, 0, 1) - rule.dtstart) / CYCLE_MS);
  const shift = cycles * CYCLE_MS;
  const found = engine(rule, rule.dtstart, shift).after(new Date(rule.dtstart + shift), true);
  return found === null
    ? `the rrule never fires (no fire time within ${FIRST_FIRE_YEARS} years of DTSTART)`
    : null;
}

/** True when the rule never fires (see `rruleFireProblem`). */
export function rruleNeverFires(spec: RRuleSchedule): boolean {
  return rruleFireProblem(spec) !== null;
}

type ParsedOptions = ReturnType<typeof RRule.parseString>;

const asList = (v: number | number[] | null | undefined): number[] =>
  v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];

/** BYMONTHDAY values that no month of BYMONTH (all months if absent) has, e.g. Feb 30. */
function impossibleMonthDays(options: ParsedOptions): boolean {
  const days = asList(options.bymonthday as number | number[] | null);
  if (days.length === 0) return false;
  const months = asList(options.bymonth as number | number[] | null);
  return !(months.length ? months : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).some((m) =>
    days.some((d) => Math.abs(d) <= MONTH_DAYS[m - 1])
  );
}

const DATE_FILTERS = ["bymonth", "bymonthday", "byyearday", "byweekno", "byweekday"] as const;

function hasDateFilter(options: ParsedOptions): boolean {
  return DATE_FILTERS.some((k) => {
    const v = options[k] as unknown;
    return v !== null && v !== undefined && (!Array.isArray(v) || v.length > 0);
  });
}

/** BYSETPOS picks among one day's times: at least one position must exist. */
function setPosReachable(options: ParsedOptions): boolean {
  const positions = asList(options.bysetpos as number | number[] | null);
  if (positions.length === 0) return true;
  const count = (k: "byhour" | "byminute" | "bysecond") =>
    Math.max(1, asList(options[k] as number | number[] | null).length);
  const times = count("byhour") * count("byminute") * count("bysecond");
  return positions.some((p) => Math.abs(p) <= times);
}

/** rrule.js weekday numbers: MO = 0 … SU = 6. */
function weekdaysOf(options: ParsedOptions): number[] {
  const raw = options.byweekday as unknown;
  const list = raw === null || raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((w) => (typeof w === "number" ? w : (w as { weekday: number }).weekday));
}

/**
 * Floating start of the first day, from DTSTART's day in steps of `step`
 * days and at most `FIRST_FIRE_PERIODS` steps (and before UNTIL), that
 * BYMONTH, BYMONTHDAY, BYYEARDAY and BYDAY allow; null when there is none.
 * Plain date arithmetic, a few microseconds per day.
 */
function firstMatchingDay(rule: FloatingRule, options: ParsedOptions, step: number): number | null {
  const months = asList(options.bymonth as number | number[] | null);
  const monthDays = asList(options.bymonthday as number | number[] | null)
    .concat(asList(options.bynmonthday as number | number[] | null));
  const yearDays = asList(options.byyearday as number | number[] | null);
  const weekdays = weekdaysOf(options);
  const first = rule.dtstart - (((rule.dtstart % DAY_MS) + DAY_MS) % DAY_MS);
  for (let k = 0; k < FIRST_FIRE_PERIODS; k++) {
    const day = first + k * step * DAY_MS;
    if (rule.until !== undefined && day > rule.until) return null;
    const d = new Date(day);
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth() + 1;
    const date = d.getUTCDate();
    const inMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const yearLength = new Date(Date.UTC(year, 1, 29)).getUTCDate() === 29 ? 366 : 365;
    const yearDay = Math.round((day - Date.UTC(year, 0, 1)) / DAY_MS) + 1;
    if (months.length && !months.includes(month)) continue;
    if (monthDays.length && !monthDays.includes(date) && !monthDays.includes(date - inMonth - 1)) {
      continue;
    }
    if (
      yearDays.length && !yearDays.includes(yearDay) &&
      !yearDays.includes(yearDay - yearLength - 1)
    ) continue;
    if (weekdays.length && !weekdays.includes((d.getUTCDay() + 6) % 7)) continue;
    return day;
  }
  return null;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Sub-daily rules whose time filters the stepping can never reach. rrule.js
 * steps HOURLY/MINUTELY/SECONDLY rules in a loop that only ends on a time in
 * BYHOUR/BYMINUTE/BYSECOND, with no other exit: `FREQ=HOURLY;INTERVAL=2;
 * BYHOUR=3` from midnight spun forever and froze the server. The times
 * reachable are DTSTART's second of the day plus multiples of
 * gcd(INTERVAL, one day); that is exact while every carry into the next
 * unit is constant or at most one. Intervals with a varying carry of more
 * than one (90 minutes with BYHOUR) are refused rather than risked.
 */
function timeFilterProblem(rule: FloatingRule, options: ParsedOptions): string | null {
  const freq = rule.text.freq;
  const unit = PERIOD_MS[freq] / 1000;
  if (!(unit < 86_400)) return null;
  const interval = rule.text.interval;
  const hours = asList(options.byhour as number | number[] | null);
  const minutes = freq === "HOURLY" ? [] : asList(options.byminute as number | number[] | null);
  const seconds = freq === "SECONDLY" ? asList(options.bysecond as number | number[] | null) : [];
  if (hours.length + minutes.length + seconds.length === 0) return null;
  const varying = (size: number, filtered: boolean) =>
    filtered && interval * unit > size && (interval * unit) % size !== 0;
  if (
    (freq !== "HOURLY" && varying(3_600, hours.length > 0)) ||
    (freq === "SECONDLY" && varying(60, hours.length + minutes.length > 0))
  ) {
    return `unsupported rrule: FREQ=${freq};INTERVAL=${interval} with BYHOUR or BYMINUTE ` +
      "(use an INTERVAL that divides or is a multiple of the hour and minute)";
  }
  const step = gcd(interval * unit, 86_400);
  const start = Math.floor(((rule.dtstart % DAY_MS) + DAY_MS) % DAY_MS / 1000);
  // HOURLY keeps DTSTART's minute and second, MINUTELY its second.
  const hs = hours.length ? hours : range(24);
  const ms = freq === "HOURLY"
    ? [Math.floor(start / 60) % 60]
    : minutes.length
    ? minutes
    : range(60);
  const ss = freq === "SECONDLY" ? (seconds.length ? seconds : range(60)) : [start % 60];
  for (const h of hs) {
    for (const m of ms) {
      for (const sec of ss) {
        if ((((h * 3600 + m * 60 + sec - start) % step) + step) % step === 0) return null;
      }
    }
  }
  return "the rrule never fires (its INTERVAL from DTSTART never reaches BYHOUR/BYMINUTE/BYSECOND)";
}
