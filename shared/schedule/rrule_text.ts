/**
 * Reading the text of an RFC 5545 recurrence: an optional DTSTART line and one
 * RRULE (with or without the `RRULE:` prefix).
 *
 * We validate every property ourselves instead of trusting
 * `RRule.parseString`: it accepts `COUNT=abc`, `BYDAY=XX` and an empty rule
 * without complaint and fails later, or never terminates. Only DTSTART and
 * RRULE are supported; RDATE/EXDATE/EXRULE are refused by name.
 */
import { isValidTimeZone } from "./zone.ts";
import { MAX_RRULE_COUNT } from "./types.ts";

/** A DATE or DATE-TIME value: wall-clock fields (as floating ms), and whether they are UTC (`Z`). */
export interface RRuleDate {
  fields: number;
  utc: boolean;
  /** A DATE without time (`20261231`). */
  dateOnly: boolean;
}

/** The parts of a recurrence text, validated. */
export interface RRuleText {
  /** The RRULE value, upper-cased, properties in their given order. */
  rule: string;
  freq: string;
  interval: number;
  count?: number;
  until?: RRuleDate;
  dtstart?: RRuleDate;
  /** The TZID parameter of DTSTART, if any. */
  tzid?: string;
}

const FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];
const DAY = "(MO|TU|WE|TH|FR|SA|SU)";
/** Allowed integer ranges of the numeric BYxxx lists; `signed` admits -max..-1 too. */
const LISTS: Record<string, { min: number; max: number; signed: boolean; freqs?: string[] }> = {
  BYSECOND: { min: 0, max: 59, signed: false },
  BYMINUTE: { min: 0, max: 59, signed: false },
  BYHOUR: { min: 0, max: 23, signed: false },
  BYMONTHDAY: { min: 1, max: 31, signed: true, freqs: FREQS.filter((f) => f !== "WEEKLY") },
  BYYEARDAY: {
    min: 1,
    max: 366,
    signed: true,
    freqs: ["SECONDLY", "MINUTELY", "HOURLY", "YEARLY"],
  },
  BYWEEKNO: { min: 1, max: 53, signed: true, freqs: ["YEARLY"] },
  BYMONTH: { min: 1, max: 12, signed: false },
  BYSETPOS: { min: 1, max: 366, signed: true },
};
const KNOWN = new Set([
  "FREQ",
  "INTERVAL",
  "COUNT",
  "UNTIL",
  "BYDAY",
  "WKST",
  ...Object.keys(LISTS),
]);

/** Years a DTSTART or anchor may lie in (a COUNT rule walks from DTSTART on every query). */
export const MIN_YEAR = 1970;
export const MAX_YEAR = 2199;
const YEARS = `${MIN_YEAR}–${MAX_YEAR}`;

/** True when the instant (or floating time) `ms` lies in `MIN_YEAR`..`MAX_YEAR`. */
export function inYearRange(ms: number): boolean {
  const year = new Date(ms).getUTCFullYear();
  return year >= MIN_YEAR && year <= MAX_YEAR;
}

/** Parse `20260329` or `20260329T023000` (optionally `Z`); undefined when malformed. */
export function parseRRuleDate(text: string): RRuleDate | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0));
  const fields = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(fields);
  // Round-tripping catches 20260230 and years 0–99, which Date.UTC maps to 19xx.
  const sameDay = back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d;
  if (!sameDay || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return { fields, utc: m[7] === "Z", dateOnly: m[4] === undefined };
}

/** Validate one recurrence text; every problem found is listed. */
export function parseRRuleText(text: string): { ok: true; value: RRuleText } | {
  ok: false;
  errors: string[];
} {
  const errors: string[] = [];
  const lines = text.trim().split(/\s+/).filter((l) => l !== "");
  let ruleLine: string | undefined;
  let dtstart: RRuleDate | undefined;
  let tzid: string | undefined;
  let seenDtstart = false;
  for (const line of lines) {
    const upper = line.toUpperCase();
    if (upper.startsWith("DTSTART")) {
      if (seenDtstart) errors.push("DTSTART is given twice");
      seenDtstart = true;
      const parsed = parseDtstart(line, errors);
      dtstart = parsed?.date;
      tzid = parsed?.tzid;
    } else if (upper.startsWith("RRULE:") || /^[A-Z]+=/.test(upper)) {
      if (ruleLine !== undefined) errors.push("only one RRULE is supported");
      ruleLine = upper.replace(/^RRULE:/, "");
    } else {
      errors.push(
        `unsupported line "${line.split(/[:;]/)[0]}": only DTSTART and RRULE are supported`,
      );
    }
  }
  if (ruleLine === undefined) return { ok: false, errors: [...errors, "RRULE is missing"] };
  const rule = parseRule(ruleLine, errors);
  if (errors.length > 0 || !rule) return { ok: false, errors };
  return { ok: true, value: { ...rule, dtstart, tzid } };
}

function parseDtstart(
  line: string,
  errors: string[],
): { date?: RRuleDate; tzid?: string } | undefined {
  const m = /^DTSTART((?:;[^:;]+)*):(.+)$/i.exec(line);
  if (!m) {
    errors.push(`malformed DTSTART "${line}"`);
    return undefined;
  }
  let tzid: string | undefined;
  for (const param of m[1].split(";").slice(1)) {
    const [name, value = ""] = param.split("=");
    if (name.toUpperCase() === "TZID") tzid = value;
    else if (name.toUpperCase() !== "VALUE") errors.push(`unsupported DTSTART parameter ${name}`);
  }
  const date = parseRRuleDate(m[2].toUpperCase());
  if (!date) errors.push(`malformed DTSTART value "${m[2]}": expected YYYYMMDD[THHMMSS[Z]]`);
  else if (!inYearRange(date.fields)) errors.push(`DTSTART must be in the years ${YEARS}`);
  if (tzid !== undefined && !isValidTimeZone(tzid)) errors.push(`unknown DTSTART TZID "${tzid}"`);
  if (tzid !== undefined && date?.utc) errors.push("DTSTART cannot have both TZID and Z");
  return { date, tzid };
}

function parseRule(
  line: string,
  errors: string[],
): Omit<RRuleText, "dtstart" | "tzid"> | undefined {
  const props = new Map<string, string>();
  for (const part of line.split(";")) {
    const [name, value, extra] = part.split("=");
    if (!name || value === undefined || value === "" || extra !== undefined) {
      errors.push(`malformed RRULE part "${part}": expected NAME=VALUE`);
    } else if (!KNOWN.has(name)) errors.push(`unknown RRULE property ${name}`);
    else if (props.has(name)) errors.push(`${name} is given twice`);
    else props.set(name, value);
  }
  const freq = props.get("FREQ");
  if (freq === undefined || !FREQS.includes(freq)) {
    errors.push(freq === undefined ? "FREQ is required" : `unknown FREQ ${freq}`);
    return undefined;
  }
  const int = (name: string, max: number) => {
    const v = props.get(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) {
      errors.push(`${name} must be an integer from 1 to ${max}`);
    }
    return Number(v);
  };
  const interval = int("INTERVAL", 100_000) ?? 1;
  const count = int("COUNT", MAX_RRULE_COUNT);
  const untilText = props.get("UNTIL");
  const until = untilText === undefined ? undefined : parseRRuleDate(untilText);
  if (untilText !== undefined && !until) errors.push(`malformed UNTIL "${untilText}"`);
  if (count !== undefined && untilText !== undefined) {
    errors.push("COUNT and UNTIL cannot both be given");
  }
  for (const [name, range] of Object.entries(LISTS)) {
    const v = props.get(name);
    if (v === undefined) continue;
    if (range.freqs && !range.freqs.includes(freq)) {
      errors.push(`${name} cannot be used with FREQ=${freq}`);
    }
    for (const item of v.split(",")) {
      const n = Number(item);
      const ok = /^[+-]?\d+$/.test(item) && Math.abs(n) >= range.min && Math.abs(n) <= range.max &&
        (n >= 0 || range.signed) && !(range.signed && n === 0);
      if (!ok) errors.push(`invalid ${name} value "${item}"`);
    }
  }
  checkByDay(props.get("BYDAY"), freq, props.has("BYWEEKNO"), errors);
  const wkst = props.get("WKST");
  if (wkst !== undefined && !new RegExp(`^${DAY}$`).test(wkst)) {
    errors.push(`invalid WKST "${wkst}"`);
  }
  if (
    props.has("BYSETPOS") && ![...props.keys()].some((k) => k.startsWith("BY") && k !== "BYSETPOS")
  ) {
    errors.push("BYSETPOS needs another BYxxx rule part");
  }
  return { rule: line, freq, interval, count, until };
}

/** BYDAY: `MO`, `1MO`, `-1FR`; numbered days only in MONTHLY and YEARLY (without BYWEEKNO). */
function checkByDay(value: string | undefined, freq: string, byWeekNo: boolean, errors: string[]) {
  if (value === undefined) return;
  for (const item of value.split(",")) {
    const m = new RegExp(`^([+-]?\\d{1,2})?${DAY}$`).exec(item);
    const n = m?.[1] === undefined ? undefined : Number(m[1]);
    if (!m || n === 0 || (n !== undefined && Math.abs(n) > 53)) {
      errors.push(`invalid BYDAY value "${item}"`);
    } else if (n !== undefined && (!["MONTHLY", "YEARLY"].includes(freq) || byWeekNo)) {
      errors.push(`numbered BYDAY "${item}" needs FREQ=MONTHLY or YEARLY without BYWEEKNO`);
    }
  }
}
