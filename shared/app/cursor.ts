/** Opaque page cursors for newest-first listings: base64url("<created_at>|<id>"). */
import { ApiError } from "../http/problem.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(at: string, id: string): string {
  return btoa(`${at}|${id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const [at, id] = text.split("|");
    if (UUID.test(id ?? "") && !Number.isNaN(Date.parse(at))) return { at, id };
  } catch {
    // fall through to the 400
  }
  throw ApiError.of("validation_failed", "the cursor is not valid", [
    { path: "cursor", message: "use next_cursor from a previous page" },
  ]);
}
