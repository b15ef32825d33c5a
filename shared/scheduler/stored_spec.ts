/**
 * Schedules as the database stores them (`schedules.spec`, the output of
 * `scheduleToJson`) back to typed specs, and the keys that say when two
 * specs are the same schedule.
 *
 * A stored spec was validated when it was deployed, so cron and interval
 * specs are rebuilt field by field instead of validated again: `parseSchedule`
 * costs 0.05–0.25 ms for a cron in a zone (zod, two croner compilations, the
 * never-fires check), a fifth of a due schedule's whole tick. rrules, whose
 * DTSTART line needs real parsing, go through `parseSchedule`. Either way the
 * result is memoised by the spec's text: a long-lived isolate handles the
 * same schedules day after day. The memo holds only immutable values derived
 * from its key, never anything per request.
 */
import { canonicalize } from "../api/canonical_json.ts";
import {
  parseSchedule,
  type ScheduleInput,
  type ScheduleSpec,
  scheduleToJson,
} from "../schedule/mod.ts";

const MEMO_LIMIT = 20_000;
const memo = new Map<string, ScheduleSpec>();
// Any instant will do: stored specs carry every default explicitly.
const ANY_ANCHOR = new Date(0);

/**
 * The typed spec of a stored `scheduleToJson` value. Throws when the stored
 * value does not parse (a row written by hand, or by a future version).
 */
export function storedSpec(json: unknown): ScheduleSpec {
  const key = JSON.stringify(json);
  const hit = memo.get(key);
  if (hit) return hit;
  let spec = rebuilt(json);
  if (!spec) {
    const parsed = parseSchedule(json, "spec", { defaultAnchor: ANY_ANCHOR });
    if (!parsed.ok) {
      throw new Error(`stored schedule spec does not parse: ${JSON.stringify(parsed.errors)}`);
    }
    spec = parsed.value;
  }
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, spec);
  return spec;
}

/** A stored cron or interval spec as `parseSchedule` made it; null for anything else. */
function rebuilt(json: unknown): ScheduleSpec | null {
  const j = json as Record<string, unknown> | null;
  const catchup = j?.catchup;
  if (
    typeof j?.timezone !== "string" || typeof j.active !== "boolean" ||
    typeof j.max_late !== "number" || j.parameters === null || typeof j.parameters !== "object" ||
    (catchup !== "none" && catchup !== "latest" && catchup !== "all")
  ) return null;
  const common = {
    timezone: j.timezone,
    parameters: j.parameters as Record<string, unknown>,
    active: j.active,
    catchup,
    maxLateSeconds: j.max_late,
  } as const;
  if (typeof j.cron === "string") return { kind: "cron", cron: j.cron, ...common };
  const anchor = typeof j.anchor === "string" ? Date.parse(j.anchor) : NaN;
  if (typeof j.interval === "number" && Number.isFinite(anchor)) {
    return { kind: "interval", intervalSeconds: j.interval, anchor: new Date(anchor), ...common };
  }
  return null;
}

/** `scheduleToJson` with keys sorted, for comparisons and storage. */
export function specJson(spec: ScheduleSpec): ScheduleInput {
  return canonicalize(scheduleToJson(spec)) as ScheduleInput;
}

/**
 * What makes two schedules "the same schedule" when a deployment is
 * deployed again: everything but `active`, which pause/resume also changes.
 */
export function identityKey(json: ScheduleInput): string {
  const { active: _active, ...rest } = canonicalize(json) as Record<string, unknown>;
  return JSON.stringify(rest);
}

/** What decides the fire times: the spec without parameters, active, catch-up and max_late. */
export function timingKey(json: ScheduleInput): string {
  const { active: _a, parameters: _p, catchup: _c, max_late: _m, ...rest } = canonicalize(
    json,
  ) as Record<string, unknown>;
  return JSON.stringify(rest);
}
