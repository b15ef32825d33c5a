/**
 * Plain-text tables and value formatting for people: aligned columns with
 * upper-case headers (kubectl's look), no box drawing, so output stays
 * greppable and pastes cleanly into issues. Our own few lines instead of a
 * table library: the job is padding strings.
 */
import { wallTime } from "../schedule/zone.ts";

/** One column: its header and how to show a row's value. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** Renders rows as aligned columns, two spaces apart; the last column is not padded. */
export function renderTable<T>(columns: Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  // Upper case up to a parenthesis: `local time (Asia/Kolkata)` keeps the zone's real name.
  const headers = columns.map((c) => c.header.replace(/^[^(]*/, (h) => h.toUpperCase()));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i]))));
  const line = (values: string[]) =>
    values.map((v, i) => i === values.length - 1 ? v : pad(v, widths[i])).join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n") + "\n";
}

/** `key: value` lines with the keys aligned, for `show` commands. */
export function renderFields(fields: [string, unknown][]): string {
  const w = Math.max(...fields.map(([k]) => width(k))) + 1;
  return fields.map(([k, v]) => `${pad(`${k}:`, w)} ${cell(v)}`.trimEnd()).join("\n") + "\n";
}

/** A value as one table cell: `-` for nothing, lists joined, objects as compact JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (Array.isArray(value)) return value.length ? value.map(cell).join(",") : "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/\s*\n\s*/g, " ");
}

/** A duration in ms as people say it: `850ms`, `12.3s`, `4m05s`, `2h03m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** Time from `start` to `end` (or to `now` while still running). */
export function elapsed(
  start: string | null | undefined,
  end: string | null | undefined,
  now: number,
): string {
  if (!start) return "-";
  return formatDuration((end ? Date.parse(end) : now) - Date.parse(start));
}

/** An ISO timestamp shortened for tables, without its zone: `2026-11-22 14:03:07` (UTC). */
export function utcTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  return iso.replace("T", " ").replace(/\.\d+/, "").replace(/Z$/, "");
}

/** An ISO timestamp for people, with its zone: `2026-11-22 14:03:07 UTC`. */
export function shortTime(iso: string | null | undefined): string {
  return iso ? `${utcTime(iso)} UTC` : "-";
}

/**
 * An instant as wall-clock time in `zone`, named: `2026-11-22 21:00:00 Asia/Kolkata` (a schedule's
 * next fire time reads in the schedule's own zone).
 */
export function zonedTime(iso: string | null | undefined, zone: string | null | undefined): string {
  return iso ? wallTime(iso, zone) : "-";
}

function width(s: string): number {
  // Code points, not UTF-16 units: "✓" and "é" take one column.
  return [...s].length;
}

function pad(s: string, w: number): string {
  return s + " ".repeat(Math.max(0, w - width(s)));
}
