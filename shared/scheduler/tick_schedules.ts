/**
 * The scheduler half of a tick: read the schedules due before now + horizon
 * (one range scan of the partial index `schedules_due`), compute each one's
 * fire times in TypeScript (`dueFireTimes`: catch-up, DST), and write: per
 * schedule, create its runs (SCHEDULED, tasks invisible until their time)
 * and advance next_fire_at, guarded by the next_fire_at that was read.
 *
 * Writes go in chunks (`edgeflow.fire_schedules`, one transaction per
 * chunk): a commit waits for a WAL flush, and one per schedule made 100 due
 * schedules cost 160-250 ms instead of ~50 (see the SQL's comment). Chunks
 * are sent while the next one is computed, so TypeScript and Postgres work
 * side by side. A chunk that fails is replayed one schedule per transaction,
 * so one bad schedule cannot hold back the others.
 *
 * Racing or retried ticks are harmless: the guard lets one writer through
 * per schedule and fire time, and runs are keyed by (schedule, fire time).
 * With QStash delivery, fire times are published as delayed messages to
 * `/trigger/schedules/:id/fire` instead (deduplicated by QStash on the same
 * key), and the guarded write only advances the schedule.
 */
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../http/logger.ts";
import type { QstashPublisher } from "../qstash/publish.ts";
import { type FireItem, planFire } from "./plan_fire.ts";
import type { ScheduleTarget } from "./schedule_target.ts";

/** Fire times up to this far ahead get their runs now: a minute's tick plus slack. */
export const DEFAULT_HORIZON_MS = 90_000;

/** Options of {@link tickSchedules}; everything but `sql` and `now` has a default. */
export interface TickSchedulesOptions {
  sql: Sql;
  /** The tick's clock (tests move it). */
  now: () => Date;
  /** Look-ahead (default {@link DEFAULT_HORIZON_MS}). */
  horizonMs?: number;
  /** A fire time less late than this is on time, not missed (library default: 60 s). */
  graceMs?: number;
  /** Schedules read per query (default 500) and queries per tick (default 10). */
  batchSize?: number;
  maxBatches?: number;
  /** Schedules per write transaction (default 50) and writes in flight (default 2). */
  chunkSize?: number;
  concurrency?: number;
  /** Deliver fire times through QStash instead of creating runs ahead. */
  delivery?: { publisher: QstashPublisher; fireUrl: (scheduleId: string) => string };
  log?: Logger;
}

/** What the scheduler did in one tick. */
export interface TickSchedulesResult {
  /** Due schedules handled by this tick (not by a racing one). */
  schedules: number;
  /** Runs created. */
  created: number;
  /** Fire times handed to QStash. */
  published: number;
  /** Schedules that failed (logged; retried next tick). */
  errors: number;
}

/** A due schedule as `edgeflow.due_schedules` returns it. */
export interface DueRow extends ScheduleTarget {
  next_fire_at: string;
  resumed_at: string | null;
}

interface Outcome {
  skipped: boolean;
  created: number;
  error?: unknown;
}

/** One scheduler pass; see the module header. */
export async function tickSchedules(opts: TickSchedulesOptions): Promise<TickSchedulesResult> {
  const result: TickSchedulesResult = { schedules: 0, created: 0, published: 0, errors: 0 };
  const now = opts.now();
  const horizonMs = opts.horizonMs ?? DEFAULT_HORIZON_MS;
  const until = new Date(now.getTime() + horizonMs);
  const batchSize = opts.batchSize ?? 500;
  const chunkSize = opts.chunkSize ?? 50;
  const planning = { now, horizonMs, graceMs: opts.graceMs, delivery: opts.delivery };
  for (let batch = 0; batch < (opts.maxBatches ?? 10); batch++) {
    const [row] = await opts.sql<{ due: DueRow[] }>`
      select edgeflow.due_schedules(${until.toISOString()}::timestamptz, ${batchSize}::int) as due`;
    const before = result.schedules;
    const inFlight = new Set<Promise<void>>();
    for (let start = 0; start < row.due.length; start += chunkSize) {
      // In parallel: with QStash delivery each plan publishes over HTTP.
      const chunk = row.due.slice(start, start + chunkSize);
      const planned = await Promise.allSettled(chunk.map((due) => planFire(due, planning)));
      const items: FireItem[] = [];
      planned.forEach((p, i) => {
        if (p.status === "fulfilled") items.push(p.value);
        else fail(opts, result, chunk[i].id, p.reason);
      });
      const write: Promise<void> = writeChunk(opts, items, result).finally(() =>
        inFlight.delete(write)
      );
      inFlight.add(write);
      if (inFlight.size >= (opts.concurrency ?? 2)) await Promise.race(inFlight);
      // Let the driver send the write (postgres.js flushes on the next turn of the
      // event loop) before planning the next chunk keeps this thread busy.
      else await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(inFlight);
    // Stop when the index has nothing more, or nothing moved (a racing tick won them all).
    if (row.due.length < batchSize || result.schedules === before) break;
  }
  return result;
}

/** One transaction for the chunk; if it fails, one per schedule. */
async function writeChunk(
  opts: TickSchedulesOptions,
  items: FireItem[],
  result: TickSchedulesResult,
) {
  if (items.length === 0) return;
  let outcomes: Outcome[];
  try {
    const [row] = await opts.sql<{ r: Outcome[] }>`
      select edgeflow.fire_schedules(${JSON.stringify(items)}::text::jsonb) as r`;
    outcomes = row.r;
  } catch (error) {
    opts.log?.("warn", "schedule chunk failed; writing its schedules one by one", {
      error: String(error),
    });
    outcomes = [];
    for (const item of items) {
      try {
        const [row] = await opts.sql<{ r: Outcome[] }>`
          select edgeflow.fire_schedules(${JSON.stringify([item])}::text::jsonb) as r`;
        outcomes.push(row.r[0]);
      } catch (e) {
        fail(opts, result, item.id, e);
        outcomes.push({ skipped: true, created: 0 });
      }
    }
  }
  outcomes.forEach((outcome, i) => {
    const item = items[i];
    if (outcome.skipped) return;
    result.schedules++;
    result.created += outcome.created;
    if (!item.create) result.published += item.times.length;
    if (item.error || outcome.error) {
      opts.log?.("warn", "scheduled runs not created", {
        schedule: item.id,
        error: item.error ?? outcome.error,
      });
    }
  });
}

function fail(opts: TickSchedulesOptions, result: TickSchedulesResult, id: string, error: unknown) {
  result.errors++;
  opts.log?.("error", "schedule tick failed", { schedule: id, error: String(error) });
}
