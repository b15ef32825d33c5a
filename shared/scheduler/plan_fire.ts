/**
 * What one tick does with one due schedule, decided in TypeScript before
 * anything is written: its fire times up to the horizon (the catch-up
 * policy applied by `dueFireTimes`), its next `next_fire_at`, and whether
 * its parameters still fit the flow version it would run. With QStash
 * delivery the fire times are published here, before the guarded write: a
 * crash in between only means publishing again next tick, which QStash
 * deduplicates on the same id.
 */
import type { QstashPublisher } from "../qstash/publish.ts";
import {
  DEFAULT_GRACE_MS,
  type DueFireTimes,
  dueFireTimes,
  MAX_FIRE_TIMES,
  nextFireTime,
  type ScheduleSpec,
} from "../schedule/mod.ts";
import { storedSpec } from "./stored_spec.ts";
import { parameterProblem, type ScheduleProblem, type ScheduleTarget } from "./schedule_target.ts";

/** One item of `edgeflow.fire_schedules`. */
export interface FireItem {
  id: string;
  /** The next_fire_at the tick read: the guard of the write. */
  expected: string;
  /** Fire times (ISO) to create runs for, or that were published. */
  times: string[];
  next: string | null;
  /** False when QStash delivers the fire times (the write only advances). */
  create: boolean;
  error: ScheduleProblem | null;
}

/** How {@link planFire} sees the tick. */
export interface PlanFireContext {
  now: Date;
  horizonMs: number;
  graceMs?: number;
  delivery?: { publisher: QstashPublisher; fireUrl: (scheduleId: string) => string };
}

/** The write for one due schedule (publishing its fire times first, with QStash). */
export async function planFire(
  due: ScheduleTarget & { next_fire_at: string; resumed_at: string | null },
  ctx: PlanFireContext,
): Promise<FireItem> {
  // Only active schedules are due; the stored spec's own flag may lag a pause/resume.
  const spec = { ...storedSpec(due.spec), active: true };
  let from: Date | null = new Date(due.next_fire_at);
  if (due.resumed_at !== null && Date.parse(due.resumed_at) > from.getTime()) {
    // Resumed outside POST /deploy: a pause is not an outage, nothing before it is owed.
    from = nextFireTime(spec, new Date(Date.parse(due.resumed_at) - 1));
  }
  const planned = from === null
    ? { fireTimes: [], nextFireAt: null }
    : fireTimesDue(spec, from, ctx);
  const error = planned.fireTimes.length > 0 ? parameterProblem(due) : null;
  const times = error ? [] : planned.fireTimes;
  if (ctx.delivery) {
    const { publisher, fireUrl } = ctx.delivery;
    for (const t of times) {
      await publisher.publishDelayed({
        url: fireUrl(due.id),
        body: { schedule_id: due.id, scheduled_time: t.toISOString() },
        notBefore: t,
        deduplicationId: `${due.id}.${t.getTime()}`,
      });
    }
  }
  return {
    id: due.id,
    expected: due.next_fire_at,
    times: times.map((t) => t.toISOString()),
    next: planned.nextFireAt?.toISOString() ?? null,
    create: !ctx.delivery,
    error,
  };
}

/**
 * `dueFireTimes`, with a shortcut for the common case of a tick that missed
 * nothing: then the due fire times are `from` itself (every stored
 * next_fire_at is a fire time, made by `nextFireTime`) and its successors up
 * to the horizon — one `nextFireTime` per fire time instead of the three
 * window queries the general case needs, which halves a due schedule's
 * TypeScript cost. Anything late goes through `dueFireTimes` and its
 * catch-up policies. `plan_fire_test.ts` checks that both agree.
 */
export function fireTimesDue(
  spec: ScheduleSpec,
  from: Date,
  ctx: Pick<PlanFireContext, "now" | "horizonMs" | "graceMs">,
): Pick<DueFireTimes, "fireTimes" | "nextFireAt"> {
  const now = ctx.now.getTime();
  const end = now + Math.max(0, ctx.horizonMs);
  const onTime = from.getTime() >= now - Math.max(0, ctx.graceMs ?? DEFAULT_GRACE_MS);
  if (!onTime || from.getTime() > end) {
    return dueFireTimes(spec, {
      nextFireAt: from,
      now: ctx.now,
      horizonMs: ctx.horizonMs,
      graceMs: ctx.graceMs,
    });
  }
  const fireTimes = [from];
  let next = nextFireTime(spec, from);
  while (next !== null && next.getTime() <= end && fireTimes.length < MAX_FIRE_TIMES) {
    fireTimes.push(next);
    next = nextFireTime(spec, next);
  }
  return { fireTimes, nextFireAt: next };
}
