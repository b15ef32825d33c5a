/**
 * The schedule half of `POST /deploy`, as a pure function: validate the
 * body's schedules, match them to the deployment's existing ones, and decide
 * each one's `next_fire_at`.
 *
 * The body is declarative, so deploying the same file twice must change
 * nothing: an entry keeps the id (and the pending `next_fire_at`, with any
 * catch-up it owes) of the existing schedule it names by `id`, else of an
 * existing schedule with the identical normalised spec. An interval without
 * `anchor` (or an rrule without DTSTART) is read against the existing
 * schedule's creation time for that comparison, since that is the anchor it
 * was given when it was created.
 *
 * Resuming (a schedule becoming active, or its deployment unpaused) starts
 * from the next fire time after now: a pause is deliberate, so the fire
 * times it covered are not caught up. Catch-up is for outages only.
 */
import {
  nextFireTime,
  type ParseResult,
  parseSchedule,
  type ScheduleError,
  type ScheduleInput,
  type ScheduleSpec,
} from "../schedule/mod.ts";
import { identityKey, specJson, timingKey } from "./stored_spec.ts";

/** A schedule already stored for the deployment. */
export interface ExistingSchedule {
  id: string;
  spec: ScheduleInput;
  active: boolean;
  next_fire_at: string | null;
  created_at: string;
}

/** One row of the final schedule set, as `edgeflow.deploy` takes it. */
export interface PlannedSchedule {
  /** The existing schedule this entry updates; null for a new one. */
  id: string | null;
  position: number;
  kind: ScheduleSpec["kind"];
  spec: ScheduleInput;
  timezone: string;
  parameters: Record<string, unknown>;
  active: boolean;
  catchup: string;
  max_late: number;
  next_fire_at: string | null;
  /**
   * The schedule keeps its fire times (same id, same timing, firing before
   * and after): if the deploy withdraws its planned runs (its spec or its
   * deployment changed), it fires again from the earliest one withdrawn.
   */
  keeps_fire_times: boolean;
  /** For new schedules: the clock reading their defaults were anchored at. */
  created_at: string;
}

/** What the deployment was and will be. */
export interface PlanContext {
  now: Date;
  existing: ExistingSchedule[];
  /** The deployment's paused flag before and after this deploy. */
  wasPaused: boolean;
  paused: boolean;
}

/** The final schedule set for `inputs` (the body's `schedules`), or every problem found. */
export function planSchedules(inputs: unknown[], ctx: PlanContext): ParseResult<PlannedSchedule[]> {
  const errors: ScheduleError[] = [];
  const specs = inputs.map((input, i) => {
    const parsed = parseSchedule(input, `schedules[${i}]`, { defaultAnchor: ctx.now });
    if (!parsed.ok) errors.push(...parsed.errors);
    return parsed.ok ? parsed.value : null;
  });
  const byId = new Map(ctx.existing.map((e) => [e.id, e]));
  const matched = new Map<number, ExistingSchedule>();
  const taken = new Set<string>();
  inputs.forEach((input, i) => {
    const id = (input as { id?: unknown } | null)?.id;
    if (id === undefined || id === null) return;
    const existing = typeof id === "string" ? byId.get(id.toLowerCase()) : undefined;
    if (!existing) {
      errors.push({
        path: `schedules[${i}].id`,
        message: "no schedule with this id on this deployment",
      });
    } else if (taken.has(existing.id)) {
      errors.push({ path: `schedules[${i}].id`, message: "this id is given twice" });
    } else {
      matched.set(i, existing);
      taken.add(existing.id);
    }
  });
  if (errors.length > 0) return { ok: false, errors };

  // Read an entry as it would have been read when `existing` was created
  // (schedules deployed together share a creation time: one parse each).
  const readAs = new Map<string, ScheduleSpec>();
  const asOf = (i: number, existing: ExistingSchedule): ScheduleSpec => {
    const key = `${i}|${existing.created_at}`;
    let spec = readAs.get(key);
    if (!spec) {
      const parsed = parseSchedule(inputs[i], "", { defaultAnchor: new Date(existing.created_at) });
      spec = parsed.ok ? parsed.value : specs[i]!;
      readAs.set(key, spec);
    }
    return spec;
  };
  const final = specs.map((spec) => spec!);
  for (const [i, existing] of matched) final[i] = asOf(i, existing);
  inputs.forEach((_, i) => {
    if (matched.has(i)) return;
    for (const existing of ctx.existing) {
      if (taken.has(existing.id) || !(specs[i]!.kind in existing.spec)) continue;
      const candidate = asOf(i, existing);
      if (identityKey(specJson(candidate)) !== identityKey(existing.spec)) continue;
      matched.set(i, existing);
      taken.add(existing.id);
      final[i] = candidate;
      return;
    }
  });

  const planned = final.map((spec, i): PlannedSchedule => {
    const json = specJson(spec);
    const keeps = keepsFireTimes(json, matched.get(i), ctx);
    return {
      id: matched.get(i)?.id ?? null,
      position: i,
      kind: spec.kind,
      spec: json,
      timezone: spec.timezone,
      parameters: spec.parameters,
      active: spec.active,
      catchup: spec.catchup,
      max_late: spec.maxLateSeconds,
      next_fire_at: keeps
        ? matched.get(i)!.next_fire_at
        : nextFireTime(spec, ctx.now)?.toISOString() ?? null,
      keeps_fire_times: keeps,
      created_at: ctx.now.toISOString(),
    };
  });
  return { ok: true, value: planned };
}

/** Whether a pending fire time is kept: the schedule goes on firing as before. */
function keepsFireTimes(
  json: ScheduleInput,
  existing: ExistingSchedule | undefined,
  ctx: PlanContext,
): boolean {
  const firedBefore = existing !== undefined && existing.active && !ctx.wasPaused;
  return firedBefore && timingKey(json) === timingKey(existing!.spec);
}
