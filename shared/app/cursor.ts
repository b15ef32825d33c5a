/** Opaque page cursors for newest-first listings: base64url("<created_at>|<id>"). */
import { ApiError } from "../http/problem.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * The time as list_runs writes it (`YYYY-MM-DDTHH:MI:SS.USZ`), a real date of
 * years 1–9999. Date.parse alone let through what Postgres refuses or reads
 * otherwise (`0000-01-01`, `+275760-…`, `2022/02/30`, `1`): a 422 naming no
 * field, or an empty page (found by a hostile-input probe).
 */
const AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;

function validAt(at: string): boolean {
  const m = AT.exec(at);
  if (!m || m[1] === "0000") return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d &&
    h < 24 && mi < 60 && s < 60;
}

export function encodeCursor(at: string, id: string): string {
  return btoa(`${at}|${id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const [at, id] = text.split("|");
    if (UUID.test(id ?? "") && validAt(at ?? "")) return { at, id };
  } catch {
    // fall through to the 400
  }
  throw ApiError.of("validation_failed", "the cursor is not valid", [
    { path: "cursor", message: "use next_cursor from a previous page" },
  ]);
}
