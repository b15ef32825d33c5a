/**
 * One scheduler and maintenance pass: what `POST /trigger/tick`, the
 * Cloudflare `scheduled()` handler and pg_cron call. In order: the
 * maintenance pass (`edgeflow.maintenance`: the sweep of expired leases, so
 * that tasks it re-queues can be pushed at once, and pruning of rate-limit
 * windows and duplicate keys, then retention: edgeflow.prune), the scheduler (shared/scheduler/tick_schedules.ts), and with QStash, push
 * delivery of ready tasks of push pools and pruning of old delivery records.
 */
import type { Context } from "hono";
import { type AppDeps, DEFAULT_LATE_SECONDS, DEFAULT_RETENTION_DAYS } from "./deps.ts";
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
  /** Retention (edgeflow.prune): finished runs deleted, event day partitions made and dropped. */
  pruned_runs: number;
  partitions_created: number;
  partitions_dropped: number;
}
import { tickSchedules } from "../scheduler/tick_schedules.ts";
import { subflowTick, type SubflowTickReport } from "../engine/subflows.ts";
import { startDueSubflows } from "../engine/subflows.ts";
import { pushReadyTasks } from "../scheduler/push_tasks.ts";
import { eventsTick, type EventsTickReport } from "../engine/events.ts";
import { waitWake } from "./inbound_events_routes.ts";
import { qstashPublisher, scheduleDelivery } from "../scheduler/qstash_delivery.ts";
import { planAhead } from "../scheduler/plan_ahead.ts";
import { createNotifier } from "../notifications/notifier.ts";
import type { DrainReport } from "../notifications/drain.ts";

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
  /** Finished runs deleted by retention (`EDGEFLOW_RETENTION_DAYS`, a deployment's `retention_days`). */
  pruned_runs: number;
  /** Day partitions of the event log made ahead / dropped once none of their runs is left. */
  partitions_created: number;
  partitions_dropped: number;
  /** Subflow retries and delayed subflow steps started, orphaned children cancelled. */
  subflows: SubflowTickReport;
  /** Schedules whose fire times were planned ahead for the SQL tick (`edgeflow.tick()`). */
  planned: number;
  /** Outbound notifications sent, set to retry, given up; webhook log rows pruned. */
  notifications: DrainReport & { pruned: number };
  /** Wait timeouts fired, debounced triggers started, events re-processed and pruned. */
  events: EventsTickReport;
  /** Runs flagged late by this pass (edgeflow.mark_late_runs). */
  late: number;
}

export async function runTick(deps: AppDeps, c: Context): Promise<TickResult> {
  const sql = deps.sql(c);
  const publisher = qstashPublisher(deps.config);
  // The whole maintenance pass: expired leases, idle runs, Lazarus, waiting runs,
  // then pruning of rate-limit windows and duplicate keys, then retention.
  const retention = deps.config.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const [{ sweep }] = await sql<{ sweep: SweepReport }>`
    select edgeflow.maintenance(${
    deps.config.pruneBatch ?? 1000
  }::int, ${retention}::int) as sweep`;
  const subflows = await subflowTick(sql);
  // Events and waits (issue 16): timeouts by edgeflow.now(), debounced triggers, retention.
  const events = await eventsTick(sql, deps.log, waitWake(deps));
  const scheduled = await tickSchedules({
    sql,
    now: deps.now ?? (() => new Date()),
    delivery: scheduleDelivery(deps.config, publisher),
    log: deps.log,
  });
  // The subflow steps of the runs the schedules just started are due too.
  subflows.started += await startDueSubflows(sql);
  // Runs not started EDGEFLOW_LATE_SECONDS after they should have: flagged late, once.
  const [{ late }] = await sql<{ late: number }>`
    select edgeflow.mark_late_runs(${
    deps.config.lateSeconds ?? DEFAULT_LATE_SECONDS
  }::int) as late`;
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
  // Fire times ahead for pg_cron's SQL tick, which cannot compute them.
  // A failure here (a racing deploy) costs nothing: the next tick plans again.
  const planned = await planAhead(sql, (deps.now ?? (() => new Date()))()).catch((err) => {
    deps.log("warn", "planning schedules ahead failed; the next tick plans them", {
      error: String(err),
    });
    return 0;
  });
  // Outbound notifications of the runs this pass ended (and every retry that is due), then the
  // bounded retention of the webhook logs.
  const sent = await createNotifier(deps).drain(sql);
  const [{ pruned }] = await sql<{ pruned: number }>`
    select edgeflow.prune_webhooks() as pruned`;
  // Last and in a statement of its own: partition DDL locks edgeflow.events
  // until it commits (edgeflow.maintain_partitions says why it comes last).
  const [{ partitions }] = await sql<
    { partitions: { partitions_created: number; partitions_dropped: number } }
  >`select edgeflow.maintain_partitions() as partitions`;
  return {
    ...scheduled,
    pushed,
    ...sweep,
    ...partitions,
    subflows,
    planned,
    late,
    notifications: { ...sent, pruned },
    events,
  };
}

/** The tick outside a request (Cloudflare `scheduled()`), logged. */
export async function scheduledTick(deps: AppDeps, sql: Sql): Promise<TickResult> {
  const result = await runTick({ ...deps, sql: () => sql }, undefined as unknown as Context);
  deps.log("info", "tick", { ...result });
  return result;
}
