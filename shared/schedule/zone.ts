/**
 * Time-zone arithmetic on top of `Intl.DateTimeFormat`, the only zone database
 * every edge runtime ships.
 *
 * Schedules are evaluated in "floating" time: a local wall-clock reading
 * stored as if it were UTC (2026-03-29 02:30 in Berlin is the number
 * `Date.UTC(2026, 2, 29, 2, 30)`). Floating time has no DST, so cron and
 * rrule engines run in plain UTC and we convert each wall-clock reading to an
 * instant here, where the two DST rules live in one place:
 * - a wall time in a gap (spring forward) maps to the first instant after the
 *   gap (Berlin 02:30 → 03:00 CEST);
 * - a wall time that occurs twice (fall back) maps to its first occurrence.
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** A cached formatter per zone; building one costs far more than using it. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * True when `timeZone` is an IANA zone name the runtime knows ("UTC",
 * "Europe/Berlin"). Offsets such as "+05:30" are refused: they have no DST
 * rules and are not IANA names, which is what the API promises.
 */
export function isValidTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z]/.test(timeZone)) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timeZone` from UTC at the instant `ms`, in milliseconds (+05:30 → 19 800 000). */
export function offsetAt(ms: number, timeZone: string): number {
  const parts = formatterFor(timeZone).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const era = parts.find((p) => p.type === "era")?.value;
  const year = era === "BC" ? 1 - get("year") : get("year");
  const wall = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  wall.setUTCFullYear(year, get("month") - 1, get("day"));
  wall.setUTCHours(get("hour"), get("minute"), get("second"), 0);
  const wholeSecond = Math.floor(ms / 1000) * 1000;
  return wall.getTime() - wholeSecond;
}

/** The wall-clock reading at instant `ms` in `timeZone`, as floating milliseconds. */
export function toFloating(ms: number, timeZone: string): number {
  return ms + offsetAt(ms, timeZone);
}

/**
 * The instant at which a wall clock in `timeZone` shows `floating`, applying
 * the gap and overlap rules of this module's header.
 */
export function fromFloating(floating: number, timeZone: string): number {
  // Zone offsets lie within ±14 h, so the instant sought is within a day of
  // `floating`; sampling a day either side sees the offsets before and after
  // any transition (real zones never have two transitions within two days).
  const before = offsetAt(floating - DAY_MS, timeZone);
  const after = offsetAt(floating + DAY_MS, timeZone);
  // The same offset a day either side: no transition in between (the common
  // case, two Intl calls instead of four; this runs once per fire time).
  if (before === after) return floating - before;
  const candidates = [floating - before, floating - after].sort((a, b) => a - b);
  for (const instant of candidates) {
    if (toFloating(instant, timeZone) === floating) return instant;
  }
  if (after < before) return floating - before; // an overlap always matches above
  return gapEnd(floating, after, before, timeZone);
}

/**
 * The transition instant of the gap that swallows `floating`: the last instant
 * whose wall time is before `floating` lies below it, the first one after is it.
 */
function gapEnd(floating: number, after: number, before: number, timeZone: string): number {
  let lo = floating - after; // still on the old offset: wall time below `floating`
  let hi = floating - before; // already on the new offset: wall time past `floating`
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (toFloating(mid, timeZone) > floating) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** `2026-11-23T15:30:00` from floating milliseconds (milliseconds only when non-zero). */
export function formatFloating(floating: number): string {
  const iso = new Date(floating).toISOString(); // 2026-11-23T15:30:00.000Z
  const ms = iso.slice(19, 23);
  return iso.slice(0, 19) + (ms === ".000" ? "" : ms);
}

/**
 * The instant as a local ISO string with its offset in `timeZone`, e.g.
 * `2026-11-23T15:30:00+05:30` for 10:00Z in Asia/Kolkata.
 */
export function formatLocal(ms: number, timeZone: string): string {
  const offset = offsetAt(ms, timeZone);
  const minutes = Math.round(Math.abs(offset) / 60_000);
  const sign = offset < 0 ? "-" : "+";
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return `${formatFloating(ms + offset)}${sign}${hh}:${mm}`;
}

/**
 * An instant for people, in `zone` and naming it: `2026-11-22 21:00:00 Asia/Kolkata`;
 * `2026-11-22 15:30:00 UTC` without a zone (or an unknown one).
 */
export function wallTime(iso: string, zone?: string | null): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const utc = () => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  if (!zone || zone === "UTC" || zone === "Etc/UTC" || !isValidTimeZone(zone)) return utc();
  const p = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(ms)).map((part) => [part.type, part.value]),
  );
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${zone}`;
}
