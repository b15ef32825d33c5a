/**
 * The name rules of api.md as zod schemas, shared by every request schema.
 *
 * Names are restricted to a small alphabet so they are safe in URLs, log
 * lines and queue names, and so SQL metacharacters (quotes, semicolons,
 * spaces) are refused at the edge with a 422 rather than merely passed as
 * parameters.
 */
import { z } from "zod";
import { ApiError } from "../http/api_error.ts";

/** Flow (and deployment, pool, queue, variable) names: letters, digits, `.`, `_`, `-`, 1–128. */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Step slugs: letters, digits, `_`, `-`, 1–63. */
export const SLUG_PATTERN = /^[A-Za-z0-9_-]{1,63}$/;

/** A flow, deployment, pool, queue, variable or concurrency-limit name. */
export const Name = z.string().regex(
  NAME_PATTERN,
  "must be 1-128 letters, digits, '.', '_' or '-'",
);

/** A step slug. */
export const Slug = z.string().regex(SLUG_PATTERN, "must be 1-63 letters, digits, '_' or '-'");

/** A UUID (ids are UUIDs). */
export const Uuid = z.uuid("must be a UUID");

/** A tag: any printable text up to 128 characters (tags are labels, not identifiers). */
export const Tag = z.string().min(1).max(128).regex(
  /^[^\p{Cc}]*$/u,
  "must not contain control characters",
);

/** Free text such as descriptions (no size games: 10,000 characters at most). */
export const Text = z.string().max(10_000);

/**
 * A worker handler name: Celery-style `data.download_historical`, an
 * entrypoint like `flows/etl.py:daily_sync`, or anything printable.
 */
export const Handler = z.string().min(1).max(256).regex(
  /^[^\p{Cc}]*$/u,
  "must not contain control characters",
);

/** A JSON object with arbitrary values (parameters, args, env). */
export const JsonObject = z.record(z.string(), z.unknown());

/** Whole seconds within `[min, max]`. */
export function seconds(min: number, max: number) {
  return z.number().int("must be whole seconds").min(min).max(max);
}

/** Largest value of a Postgres `integer` column: larger numbers would be a database error. */
export const MAX_INT4 = 2_147_483_647;

/** A whole number that fits the `integer` column it is stored in (`min` defaults to 0). */
export function int4(min = 0) {
  return z.number().int().min(min).max(MAX_INT4);
}

/** Version pin: `"latest"` or a version number. */
export const VersionPin = z.union([z.literal("latest"), int4(1)]);

/** Canonical positive integers only: `1e0`, `0x1`, ` 1`, `1.0` and `01` name no version. */
const CANONICAL_POSITIVE = /^[1-9][0-9]{0,9}$/;

/**
 * A version number in a path (`/versions/:version`), or null when the text
 * is not a canonical positive integer within `integer` range. Number() would
 * read `1e0`, `0x1`, `%201` (" 1") and `1.0` all as 1.
 */
export function versionParam(text: string): number | null {
  if (!CANONICAL_POSITIVE.test(text)) return null;
  const n = Number(text);
  return n <= MAX_INT4 ? n : null;
}

/**
 * Checks a path parameter that must be a UUID. A malformed id cannot name
 * anything, so it is a 404 for `what` (e.g. "run") rather than a database
 * error further down.
 */
export function uuidParam(value: string, what: string): string {
  if (!Uuid.safeParse(value).success) throw ApiError.of("not_found", `no ${what} ${value}`);
  return value.toLowerCase();
}
