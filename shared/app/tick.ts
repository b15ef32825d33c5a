/**
 * One scheduler and maintenance pass: what `POST /trigger/tick`, the
 * Cloudflare `scheduled()` handler and pg_cron call. Today: the sweep of
 * expired leases; scheduled runs join it with the scheduler.
 */
import type { Context } from "hono";
import type { AppDeps } from "./deps.ts";
import { sweepExpired } from "../engine/tasks.ts";

export interface TickResult {
  created: number;
  swept: number;
  requeued: number;
  failed: number;
  cancelled: number;
}

export async function runTick(deps: AppDeps, c: Context): Promise<TickResult> {
  const sweep = await sweepExpired(deps.sql(c));
  return { created: 0, ...sweep };
}

/** The tick outside a request (Cloudflare `scheduled()`), logged. */
export async function scheduledTick(
  deps: AppDeps,
  sql: import("../db/sql.ts").Sql,
): Promise<TickResult> {
  const result = await runTick({ ...deps, sql: () => sql }, undefined as unknown as Context);
  deps.log("info", "tick", { ...result });
  return result;
}
