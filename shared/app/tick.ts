/**
 * One scheduler and maintenance pass: what `POST /trigger/tick`, the
 * Cloudflare `scheduled()` handler and pg_cron call. In order: the
 * maintenance pass (`edgeflow.maintenance`: the sweep of expired leases, so
 * that tasks it re-queues can be pushed at once, and pruning of rate-limit
 * windows and duplicate keys), the scheduler (shared/scheduler/tick_schedules.ts), and with QStash, push
 * delivery of ready tasks of push pools and pruning of old delivery records.
 */
import type { Context } from "hono";
import type { AppDeps } from "./deps.ts";
import type { Sql } from "../db/sql.ts";
/** What `edgeflow.maintenance()` reports: the sweep's counts and the rate-limit rows pruned. */
interface SweepReport {
  swept: number;
  requeued: number;
  failed: number;
  cancelled: number;
  settled: number;
  crashed: number;
  resurrected: number;
  admitted: number;
  pruned: number;
}
import { tickSchedules } from "../scheduler/tick_schedules.ts";
import { subflowTick, type SubflowTickReport } from "../engine/subflows.ts";
import { startDueSubflows } from "../engine/subflows.ts";
import { pushReadyTasks } from "../scheduler/push_tasks.ts";
import { eventsTick, type EventsTickReport } from "../engine/events.ts";
import { qstashPublisher, scheduleDelivery } from "../scheduler/qstash_delivery.ts";

export interface TickResult {
  /** Scheduled runs created. */
  created: number;
  /** Due schedules this tick handled. */
  schedules: number;
  /** Fire times handed to QStash for delivery. */
  published: number;
  /** Tasks of push pools delivered through QStash. */
  pushed: number;
  /** Schedules that failed and will be retried next tick. */
  errors: number;
  swept: number;
  requeued: number;
  failed: number;
  cancelled: number;
  settled: number;
  crashed: number;
  resurrected: number;
  admitted: number;
  /** Ended rate-limit windows and expired duplicate keys deleted. */
  pruned: number;
  /** Subflow retries and delayed subflow steps started, orphaned children cancelled. */
  subflows: SubflowTickReport;
  /** Wait timeouts fired, debounced triggers started, events re-processed and pruned. */
  events: EventsTickReport;
}

export async function runTick(deps: AppDeps, c: Context): Promise<TickResult> {
  const sql = deps.sql(c);
  const publisher = qstashPublisher(deps.config);
  // The whole maintenance pass: expired leases, idle runs, Lazarus, waiting runs,
  // then pruning of rate-limit windows and duplicate keys.
  const [{ sweep }] = await sql<{ sweep: SweepReport }>`select edgeflow.maintenance() as sweep`;
  const subflows = await subflowTick(sql);
  // Events and waits (issue 16): timeouts by edgeflow.now(), debounced triggers, retention.
  const events = await eventsTick(sql, deps.log);
  const scheduled = await tickSchedules({
    sql,
    now: deps.now ?? (() => new Date()),
    delivery: scheduleDelivery(deps.config, publisher),
    log: deps.log,
  });
  // The subflow steps of the runs the schedules just started are due too.
  subflows.started += await startDueSubflows(sql);
  let pushed = 0;
  if (publisher) {
    pushed = await pushReadyTasks({
      sql,
      publisher,
      publicUrl: deps.config.publicUrl,
      log: deps.log,
    });
    await sql`select edgeflow.prune_qstash_deliveries()`;
  }
  return { ...scheduled, pushed, ...sweep, subflows, events };
}

/** The tick outside a request (Cloudflare `scheduled()`), logged. */
export async function scheduledTick(deps: AppDeps, sql: Sql): Promise<TickResult> {
  const result = await runTick({ ...deps, sql: () => sql }, undefined as unknown as Context);
  deps.log("info", "tick", { ...result });
  return result;
}
