/**
 * A grepx deployment's `schedule_type` + `schedule_config` (seed 001,
 * "Schedules") as one edgeflow schedule. The seed's keys are `cron_string`,
 * `interval_seconds` and `rrule`, each with `timezone`; we also accept the
 * short names `cron` and `interval`, and Prefect's `anchor_date` (or
 * `anchor`) for intervals. An interval is a number of seconds, so its
 * timezone changes nothing and is dropped. A missing timezone means UTC,
 * written out so the plan says exactly what will run.
 */
import { formatPath, type SchedulePayload } from "./plan.ts";
import type { RawIssue } from "./prefect_yaml_schema.ts";

/** True when `tz` is an IANA zone this runtime knows (Intl, no tz database of ours). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Build the schedule of the deployment at `at` (a path to it), or report why
 * not. No `schedule_type` (or `none`) means an unscheduled deployment.
 */
export function planSchedule(
  type: string | null | undefined,
  config: Record<string, unknown> | null | undefined,
  active: boolean,
  at: PropertyKey[],
  warnings: string[],
): { schedules: SchedulePayload[] } | { errors: RawIssue[] } {
  const kind = type?.trim().toLowerCase();
  if (!kind || kind === "none") {
    if (config && Object.keys(config).length) {
      warnings.push(`${formatPath(at)}: schedule_config ignored, there is no schedule_type`);
    }
    return { schedules: [] };
  }
  const cfg = config ?? {};
  const errors: RawIssue[] = [];
  const here = (key: string) => [...at, "schedule_config", key];
  const pick = (keys: string[]) => {
    const key = keys.find((k) => cfg[k] !== undefined && cfg[k] !== null);
    return key === undefined ? { key: keys[0], value: undefined } : { key, value: cfg[key] };
  };

  const tz = cfg.timezone ?? "UTC";
  const timezone = typeof tz === "string" && isTimeZone(tz) ? tz : undefined;
  const checkZone = () => {
    if (!timezone) errors.push({ path: here("timezone"), message: `unknown time zone ${tz}` });
  };

  let schedule: SchedulePayload | undefined;
  if (kind === "cron") {
    const { key, value } = pick(["cron_string", "cron"]);
    checkZone();
    // Five fields (Prefect's croniter) or six with seconds; the server checks the rest.
    const fields = typeof value === "string" ? value.trim().split(/\s+/).length : 0;
    if (fields < 5 || fields > 6) {
      errors.push({ path: here(key), message: "a cron expression of 5 fields is required" });
    } else if (timezone) schedule = { cron: (value as string).trim(), timezone };
  } else if (kind === "interval") {
    const { key, value } = pick(["interval_seconds", "interval"]);
    const anchor = pick(["anchor_date", "anchor"]);
    if (typeof value !== "number" || !(value > 0)) {
      errors.push({ path: here(key), message: "a positive number of seconds is required" });
    } else if (anchor.value !== undefined && typeof anchor.value !== "string") {
      errors.push({ path: here(anchor.key), message: "must be an ISO 8601 date-time string" });
    } else {
      schedule = { interval: value, ...(anchor.value ? { anchor: anchor.value as string } : {}) };
    }
  } else if (kind === "rrule") {
    const { key, value } = pick(["rrule"]);
    checkZone();
    if (typeof value !== "string" || !value.trim()) {
      errors.push({ path: here(key), message: "an RFC 5545 rule is required" });
    } else if (timezone) schedule = { rrule: value.trim(), timezone };
  } else {
    errors.push({
      path: [...at, "schedule_type"],
      message: `unknown schedule_type ${type}; use cron, interval or rrule`,
    });
  }
  if (errors.length || !schedule) return { errors };
  return { schedules: [{ ...schedule, active }] };
}
