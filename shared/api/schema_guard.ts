/**
 * Keeping a flow's parameter schema from stalling the server at trigger time.
 *
 * Registration refuses unsafe patterns (`safe_regex.ts`), but the trigger
 * path guards on its own, because schemas registered before that check are
 * still stored, and because a safe-looking pattern can still be polynomial:
 *
 * - a schema that holds an unsafe `pattern` or `patternProperties` key is
 *   not run at all (422: the flow must be registered again);
 * - `pattern` and `format` are only tried on strings of at most
 *   `MAX_MATCHED_LENGTH` characters; a longer one is refused at its path
 *   ("String is too long"), which bounds even an O(n³) pattern;
 * - @cfworker/json-schema's `url` format is itself exponential
 *   (`(?:[a-z…0-9]+-?)*[a-z…0-9]+`: 26 characters took 100 ms, each more
 *   doubles it), so it is replaced by the same regex with that part written
 *   unambiguously.
 */
import { format } from "@cfworker/json-schema";
import type { FieldError } from "../http/error_path.ts";
import { formatPath } from "../http/error_path.ts";
import { unsafePatternReason } from "./safe_regex.ts";

/** Longest string a `pattern` or `format` is run on. */
export const MAX_MATCHED_LENGTH = 5_000;

/** Keywords whose values are data, not schemas: never walked. */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples", "example"]);

// The label part rewritten as `x+(?:-x+)*`: the same language, one way to match it.
const LABEL = "[a-z\\u{00a1}-\\u{ffff}0-9]+(?:-[a-z\\u{00a1}-\\u{ffff}0-9]+)*";
export const SAFE_URL = new RegExp(
  "^(?:(?:https?|ftp):\\/\\/)(?:\\S+(?::\\S*)?@)?(?:(?!10(?:\\.\\d{1,3}){3})(?!127(?:\\.\\d{1,3}){3})" +
    "(?!169\\.254(?:\\.\\d{1,3}){2})(?!192\\.168(?:\\.\\d{1,3}){2})(?!172\\.(?:1[6-9]|2\\d|3[0-1])(?:\\.\\d{1,3}){2})" +
    "(?:[1-9]\\d?|1\\d\\d|2[01]\\d|22[0-3])(?:\\.(?:1?\\d{1,2}|2[0-4]\\d|25[0-5])){2}(?:\\.(?:[1-9]\\d?|1\\d\\d|2[0-4]\\d|25[0-4]))|" +
    `(?:${LABEL})(?:\\.(?:${LABEL}))*(?:\\.(?:[a-z\\u{00a1}-\\u{ffff}]{2,})))(?::\\d{2,5})?(?:\\/[^\\s]*)?$`,
  "iu",
);
/** The `url` format check edgeflow installs in @cfworker/json-schema. */
export const safeUrl = (value: string): boolean => SAFE_URL.test(value);
(format as Record<string, (value: string) => boolean>).url = safeUrl;

/** Each `pattern` / `patternProperties` key of `schema`, with its path under `prefix`. */
export function schemaPatterns(
  schema: unknown,
  prefix = "parameters",
): { pattern: string; path: string }[] {
  const found: { pattern: string; path: string }[] = [];
  const stack: [unknown, PropertyKey[]][] = [[schema, []]];
  while (stack.length > 0) {
    const [node, segments] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, [...segments, i]]));
      continue;
    }
    const here = node as Record<string, unknown>;
    if (typeof here.pattern === "string") {
      found.push({ pattern: here.pattern, path: formatPath([...segments, "pattern"], prefix) });
    }
    const props = here.patternProperties;
    if (props !== null && typeof props === "object" && !Array.isArray(props)) {
      for (const key of Object.keys(props)) {
        found.push({
          pattern: key,
          path: formatPath([...segments, "patternProperties", key], prefix),
        });
      }
    }
    for (const [key, child] of Object.entries(here)) {
      if (!DATA_KEYWORDS.has(key)) stack.push([child, [...segments, key]]);
    }
  }
  return found;
}

/** Unsafe patterns of `schema` as field errors (empty when all are safe). */
export function unsafePatterns(schema: unknown, prefix = "parameters"): FieldError[] {
  return schemaPatterns(schema, prefix).flatMap(({ pattern, path }) => {
    const reason = unsafePatternReason(pattern);
    return reason === null ? [] : [{
      path,
      message: `unsafe regular expression (${reason}): it could take exponential time to match; ` +
        "rewrite it without nested or overlapping repetition",
    }];
  });
}

/**
 * Rewrites `schema` in place so `pattern` and `format` run only on strings
 * of at most `MAX_MATCHED_LENGTH` characters: `{pattern: P}` becomes
 * `{allOf: [{if: {maxLength: N}, then: {pattern: P}, else: {maxLength: N}}]}`.
 * (JSON Schema evaluates `then` only when `if` holds, so P never sees a long
 * string, and `else` reports it as too long at its own path.)
 */
export function boundMatching(schema: unknown): void {
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (const x of node) stack.push(x);
      continue;
    }
    const here = node as Record<string, unknown>;
    for (const [key, child] of Object.entries(here)) {
      if (!DATA_KEYWORDS.has(key)) stack.push(child);
    }
    const matched: Record<string, unknown> = {};
    for (const keyword of ["pattern", "format"]) {
      if (typeof here[keyword] === "string") {
        matched[keyword] = here[keyword];
        delete here[keyword];
      }
    }
    if (Object.keys(matched).length === 0) continue;
    const bound = { maxLength: MAX_MATCHED_LENGTH };
    const guard = { if: bound, then: matched, else: bound };
    here.allOf = Array.isArray(here.allOf) ? [...here.allOf, guard] : [guard];
  }
}
