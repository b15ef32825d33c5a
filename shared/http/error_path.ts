/**
 * Error paths as people read them: `steps[2].depends_on[0]`,
 * `schedules[0].cron`, `parameters.day`.
 *
 * Every 4xx that points at a field uses these helpers, so zod issues, DAG
 * checks and JSON Schema errors all name locations the same way.
 */
import type { z } from "zod";

/** One entry of a problem document's `errors` array. */
export interface FieldError {
  /** Where the problem is, e.g. `steps[2].depends_on[0]`; `""` means the whole body. */
  path: string;
  /** What is wrong there, in words. */
  message: string;
}

/** A path segment that can follow a dot without quoting. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Joins path segments: numbers become `[n]`, plain keys `.key`, other keys
 * `["odd key"]`. `prefix` is prepended (e.g. `"parameters"`).
 */
export function formatPath(segments: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "symbol") out += `[${String(segment)}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * Turns zod issues into field errors. An unrecognized-keys issue is split
 * into one error per key, pointing at the key itself, because "unknown field
 * `steps[0].depnds_on`" is what the user needs to see.
 */
export function zodIssuesToErrors(issues: readonly z.core.$ZodIssue[], prefix = ""): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        errors.push({ path: formatPath([...issue.path, key], prefix), message: "unknown field" });
      }
    } else {
      errors.push({ path: formatPath(issue.path, prefix), message: issue.message });
    }
  }
  return errors;
}
