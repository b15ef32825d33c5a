/**
 * Keeping the fire-time plans of the SQL tick topped up (shared/scheduler/plan_ahead.ts).
 *
 * - `planInBackground`: after a deploy with schedules, plan them — in the
 *   background where the runtime has one (the edge runtime's `waitUntil` on
 *   Supabase), else before answering.
 * - `planTopUp`: a middleware that, at most every `EDGEFLOW_PLAN_TOPUP_MINUTES`
 *   per process (default 10 on Supabase, off elsewhere), plans what needs it
 *   after a request — so a project whose only tick is pg_cron's SQL one keeps
 *   its plans as long as workers heartbeat or anyone calls a function.
 */
import type { MiddlewareHandler } from "hono";
import type { AppDeps } from "./deps.ts";
import type { Sql } from "../db/sql.ts";
import { planAhead } from "../scheduler/plan_ahead.ts";

/** Plan the schedules that need it, after the response where the runtime allows. */
export async function planInBackground(deps: AppDeps, sql: Sql): Promise<void> {
  const now = (deps.now ?? (() => new Date()))();
  const work = planAhead(sql, now).catch((err) => {
    deps.log("warn", "planning schedules ahead failed; the next tick plans them", {
      error: String(err),
    });
  });
  if (deps.waitUntil) deps.waitUntil(work);
  else await work;
}

export function planTopUp(deps: AppDeps): MiddlewareHandler {
  const everyMs = (deps.config.planTopUpMinutes ?? 0) * 60_000;
  let last = -Infinity;
  return async (c, next) => {
    await next();
    if (everyMs <= 0 || Date.now() - last < everyMs) return;
    last = Date.now();
    await planInBackground(deps, deps.sql(c));
  };
}
