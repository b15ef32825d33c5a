/**
 * Fire times planned ahead for the SQL tick (`edgeflow.tick()`, which
 * pg_cron runs without HTTP): TypeScript computes them — croner, rrule and
 * the DST rules of shared/schedule/ stay the one implementation — and
 * `edgeflow.schedule_plans` holds them; SQL only fires planned times
 * (`edgeflow.fire_planned_schedules`).
 *
 * A plan holds a schedule's fire times from its next_fire_at, up to
 * PLAN_DAYS ahead and at most PLAN_FIRE_TIMES of them. It is made again when
 * it is missing or stale (spec, timezone, parameters or flow version
 * changed), or once half of it has passed: by deploys, by the HTTP tick, and
 * in the background of function requests on Supabase
 * (shared/app/plan_topup.ts). A per-minute schedule's plan covers 4 hours
 * (made again after 2), an hourly one's 7 days. A schedule whose parameters
 * no longer fit its flow version gets no plan: the HTTP tick records why.
 */
import type { Sql } from "../db/sql.ts";
import { fireTimesBetween, nextFireTime } from "../schedule/mod.ts";
import { storedSpec } from "./stored_spec.ts";
import { parameterProblem, type ScheduleTarget } from "./schedule_target.ts";

/**
 * Planning a zoned per-minute cron costs ~0.2 ms per fire time here (206 ms
 * for 1000 on the 2-core CI machine; an interval: 0.8 ms for 168), so a plan
 * holds at most 240 (~50 ms), and one call plans for at most PLAN_BUDGET_MS:
 * a deploy or a tick stays far inside Supabase's 2 s CPU budget, and what is
 * left is planned by the next call.
 */
export const PLAN_FIRE_TIMES = 240;
export const PLAN_BUDGET_MS = 150;
export const PLAN_DAYS = 7;
/**
 * A plan is made again once less than half of it is left, and at the latest
 * when it covers less than this: a 7-day plan after 3.5 days, a per-minute
 * schedule's 240 times (4 h) after 2 h — not on every tick.
 */
export const REFILL_BEFORE_DAYS = 3.5;
const DAY_MS = 86_400_000;

/** A schedule as `edgeflow.schedules_to_plan` returns it. */
interface ToPlan extends ScheduleTarget {
  timezone: string;
  next_fire_at: string;
  /** The schedule's plan generation this plan is made from (edgeflow.save_schedule_plans). */
  gen?: number;
}

interface PlanItem {
  id: string;
  spec: unknown;
  timezone: string;
  parameters: Record<string, unknown>;
  version_id: string | null;
  times: string[];
  until: string;
  final: boolean;
  gen?: number;
  /** When to make the plan again: half of it passed, at most REFILL_BEFORE_DAYS before its end. */
  refill_at: string | null;
}

/** The plan of one schedule from its next_fire_at, or null when its parameters do not fit. */
export function planOne(row: ToPlan, now: Date): PlanItem | null {
  if (parameterProblem(row)) return null;
  const spec = { ...storedSpec(row.spec), active: true };
  const horizon = now.getTime() + PLAN_DAYS * DAY_MS;
  // next_fire_at is a fire time (made by nextFireTime): the plan starts with it.
  // The times up to the horizon, then the first one past it (the SQL tick needs each time's
  // successor). Computing only those, not PLAN_FIRE_TIMES and cutting at the horizon: a
  // daily zoned 6-field cron cost 30 ms to plan (240 times, 8 kept), so the tick's
  // 150 ms budget planned 5 schedules a call and the tick bench's seed left 6,166 of its
  // 10,000 unplanned, which every empty tick then spent its budget on.
  const start = Date.parse(row.next_fire_at);
  const within = fireTimesBetween(spec, new Date(start), new Date(horizon + 1), PLAN_FIRE_TIMES);
  const capped = within.length >= PLAN_FIRE_TIMES;
  const after = capped ? null : nextFireTime(spec, new Date(Math.max(horizon, start - 1)));
  const times = after ? [...within, after] : within;
  // Fewer than asked for and none past the horizon: the schedule ends with the last one.
  const final = !capped && !after;
  const until = times.length > 0 ? times[times.length - 1] : new Date(horizon);
  return {
    id: row.id,
    spec: row.spec,
    timezone: row.timezone,
    parameters: row.parameters,
    version_id: row.version_id,
    times: times.map((t) => t.toISOString()),
    until: until.toISOString(),
    final,
    gen: row.gen,
    refill_at: final || times.length === 0 ? null : new Date(
      until.getTime() -
        Math.min(REFILL_BEFORE_DAYS * DAY_MS, (until.getTime() - times[0].getTime()) / 2),
    ).toISOString(),
  };
}

/** Plan every schedule that needs it (at most `limit`); resolves with the number stored. */
export async function planAhead(sql: Sql, now: Date, limit = 200): Promise<number> {
  const [row] = await sql<{ r: ToPlan[] }>`
    select edgeflow.schedules_to_plan(${now.toISOString()}::timestamptz,
                                      make_interval(secs => ${REFILL_BEFORE_DAYS * 86_400}::float8),
                                      ${limit}::int) as r`;
  const items: (PlanItem | { id: string; gen?: number; none: true })[] = [];
  const started = performance.now();
  for (const r of row.r) {
    if (performance.now() - started > PLAN_BUDGET_MS) break;
    // No plan (parameters that do not fit): recorded, so it is not offered again every tick.
    items.push(planOne(r, now) ?? { id: r.id, gen: r.gen, none: true });
  }
  if (items.length === 0) return 0;
  const [saved] = await sql<{ n: number }>`
    select edgeflow.save_schedule_plans(${JSON.stringify(items)}::text::jsonb) as n`;
  return saved.n;
}
