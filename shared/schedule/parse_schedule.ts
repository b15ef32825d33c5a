/**
 * The wire form of a schedule (`{"cron": "30 15 * * 1-5", "timezone": …}`),
 * its validation, and its conversion to a typed `ScheduleSpec` and back.
 *
 * `ScheduleInputSchema` checks everything that depends on the input alone, so
 * a deployment schema can embed it and get paths like `schedules[0].cron` for
 * free. `parseSchedule` adds what needs the creation time (the default
 * anchor) and returns `{path, message}` errors for the 422 renderer.
 */
import { z } from "zod";
import { compileCron, cronNeverFires } from "./cron_times.ts";
import { inYearRange, MAX_YEAR, MIN_YEAR, parseRRuleText } from "./rrule_text.ts";
import { rruleFireProblem } from "./rrule_times.ts";
import {
  CATCHUP_POLICIES,
  DEFAULT_MAX_LATE_SECONDS,
  MAX_INTERVAL_SECONDS,
  MAX_MAX_LATE_SECONDS,
  type ParseResult,
  type RRuleSchedule,
  type ScheduleError,
  type ScheduleSpec,
} from "./types.ts";
import { formatFloating, isValidTimeZone, toFloating } from "./zone.ts";

const KINDS = ["cron", "interval", "rrule"] as const;
const DAY_MS = 86_400_000;
/** An ISO 8601 instant with an explicit offset: a bare local time would be ambiguous. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** The wire form of one schedule; `null` counts as absent, as JSON clients often send it. */
export const ScheduleInputSchema = z.strictObject({
  cron: z.string().max(200).nullish(),
  interval: z.number().int().min(1).max(MAX_INTERVAL_SECONDS).nullish(),
  rrule: z.string().max(2000).nullish(),
  timezone: z.string().max(100).nullish(),
  anchor: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  active: z.boolean().nullish(),
  catchup: z.enum(CATCHUP_POLICIES).nullish(),
  max_late: z.number().int().min(0).max(MAX_MAX_LATE_SECONDS).nullish(),
  // Read-only fields of GET responses, ignored so that a client can send back what it read.
  id: z.unknown().optional(),
  next_fire_at: z.unknown().optional(),
}).superRefine((input, ctx) => {
  const add = (field: string, message: string) =>
    ctx.addIssue({ code: "custom", message, path: field ? [field] : [] });
  const kinds = KINDS.filter((k) => input[k] != null);
  if (kinds.length === 0) add("", "exactly one of cron, interval or rrule is required");
  for (const extra of kinds.slice(1)) {
    add(extra, `only one of cron, interval or rrule may be given (${kinds[0]} is also given)`);
  }
  if (input.timezone != null && !isValidTimeZone(input.timezone)) {
    add(
      "timezone",
      `unknown time zone "${input.timezone}": expected an IANA name such as "Europe/Berlin"`,
    );
  }
  if (input.anchor != null) {
    const ms = ISO_INSTANT.test(input.anchor) ? Date.parse(input.anchor) : NaN;
    if (isNaN(ms)) {
      add("anchor", "expected an ISO 8601 timestamp with an offset, e.g. 2026-01-01T00:00:00Z");
    } else if (!inYearRange(ms)) add("anchor", `must be in the years ${MIN_YEAR}–${MAX_YEAR}`);
  }
  if (input.anchor != null && input.cron != null) {
    add("anchor", "anchor applies to interval and rrule only");
  }
  if (input.cron != null) {
    try {
      compileCron(input.cron);
      if (cronNeverFires(input.cron)) add("cron", "the cron expression never fires");
    } catch (e) {
      add("cron", `invalid cron expression: ${(e as Error).message.replace(/^CronPattern: /, "")}`);
    }
  }
  if (input.rrule != null) {
    const parsed = parseRRuleText(input.rrule);
    if (!parsed.ok) {
      for (const message of parsed.errors) add("rrule", `invalid rrule: ${message}`);
    } else {
      const { tzid, dtstart } = parsed.value;
      if (tzid && input.timezone != null && tzid !== input.timezone) {
        add("timezone", `differs from the rrule's DTSTART TZID "${tzid}"`);
      }
      if (dtstart && input.anchor != null) {
        add("anchor", "give DTSTART in the rrule or anchor, not both");
      }
    }
  }
});

/** The wire form, as accepted by `ScheduleInputSchema`. */
export type ScheduleInput = z.infer<typeof ScheduleInputSchema>;

/** Options of `parseSchedule`. */
export interface ParseScheduleOptions {
  /**
   * The schedule's creation time. An interval without `anchor` is aligned to
   * it; an rrule without DTSTART or `anchor` starts at local midnight of its day.
   */
  defaultAnchor: Date;
}

/** `schedules[0]` + ["cron"] → `schedules[0].cron`. */
export function joinPath(prefix: string, segments: readonly PropertyKey[]): string {
  let path = prefix;
  for (const s of segments) {
    path += typeof s === "number" ? `[${s}]` : path === "" ? String(s) : `.${String(s)}`;
  }
  return path;
}

/** zod issues as `{path, message}` under `prefix`; unknown keys become one error each. */
export function issuesToErrors(
  prefix: string,
  issues: readonly z.core.$ZodIssue[],
): ScheduleError[] {
  return issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({
        path: joinPath(prefix, [...issue.path, key]),
        message: "unknown field",
      }))
      : [{ path: joinPath(prefix, issue.path), message: issue.message }]
  );
}

/**
 * Validate one schedule of the wire form and resolve its defaults
 * (`timezone` UTC, `active` true, `catchup` latest, `max_late` 3600 s).
 * Errors name fields under `path`, e.g. `schedules[1].timezone`.
 */
export function parseSchedule(
  input: unknown,
  path: string,
  options: ParseScheduleOptions,
): ParseResult<ScheduleSpec> {
  const parsed = ScheduleInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: issuesToErrors(path, parsed.error.issues) };
  const v = parsed.data;
  const common = {
    timezone: v.timezone ?? "UTC",
    parameters: v.parameters ?? {},
    active: v.active ?? true,
    catchup: v.catchup ?? "latest",
    maxLateSeconds: v.max_late ?? DEFAULT_MAX_LATE_SECONDS,
  };
  const anchor = v.anchor != null ? new Date(v.anchor) : options.defaultAnchor;
  if (v.cron != null) return { ok: true, value: { kind: "cron", cron: v.cron.trim(), ...common } };
  if (v.interval != null) {
    return {
      ok: true,
      value: { kind: "interval", intervalSeconds: v.interval, anchor, ...common },
    };
  }
  const spec = resolveRRule(
    v.rrule!,
    common,
    v.anchor != null ? anchor : undefined,
    options.defaultAnchor,
  );
  const problem = rruleFireProblem(spec);
  if (problem !== null) {
    return { ok: false, errors: [{ path: joinPath(path, ["rrule"]), message: problem }] };
  }
  return { ok: true, value: spec };
}

/**
 * DTSTART in floating local time: the rule's own, else `anchor` read in the
 * zone, else local midnight of the creation day — so that `FREQ=HOURLY` fires
 * on the hour rather than at whatever second the deployment was created.
 */
function resolveRRule(
  text: string,
  common: Omit<RRuleSchedule, "kind" | "rrule" | "dtstart">,
  anchor: Date | undefined,
  defaultAnchor: Date,
): RRuleSchedule {
  const parsed = parseRRuleText(text);
  if (!parsed.ok) throw new Error("unreachable: the schema validated the rrule");
  const { rule, dtstart, tzid } = parsed.value;
  // A TZID on DTSTART names the zone when `timezone` is absent (the schema rejected a conflict).
  const timezone = tzid ?? common.timezone;
  let start: number;
  if (dtstart) start = dtstart.utc ? toFloating(dtstart.fields, timezone) : dtstart.fields;
  else if (anchor) start = toFloating(anchor.getTime(), timezone);
  else {
    const now = toFloating(defaultAnchor.getTime(), timezone);
    start = now - mod(now, DAY_MS);
  }
  // RFC 5545 times have whole seconds.
  start -= mod(start, 1000);
  return { kind: "rrule", ...common, timezone, rrule: rule, dtstart: formatFloating(start) };
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * The wire form of a spec with every default made explicit, which
 * `parseSchedule` reads back to the same spec whatever `defaultAnchor` it is
 * given: intervals carry their `anchor`, rrules a `DTSTART;TZID=…` line.
 */
export function scheduleToJson(spec: ScheduleSpec): ScheduleInput {
  const common = {
    timezone: spec.timezone,
    parameters: spec.parameters,
    active: spec.active,
    catchup: spec.catchup,
    max_late: spec.maxLateSeconds,
  };
  switch (spec.kind) {
    case "cron":
      return { cron: spec.cron, ...common };
    case "interval":
      return { interval: spec.intervalSeconds, anchor: spec.anchor.toISOString(), ...common };
    case "rrule": {
      const compact = spec.dtstart.slice(0, 19).replace(/[-:]/g, "");
      return { rrule: `DTSTART;TZID=${spec.timezone}:${compact}\nRRULE:${spec.rrule}`, ...common };
    }
  }
}
