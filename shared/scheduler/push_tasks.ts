/**
 * Push delivery: tasks of pools of type `push` go to the pool's `url`
 * through QStash, for HTTP workers with no long-lived poller (serverless).
 *
 * We claim on the worker's behalf with the ordinary `edgeflow.claim_tasks`
 * (so the lease, attempt count and fencing are the engine's own) and publish
 * each claimed task — the same document a heartbeat hands out, lease
 * included — with deduplication id `<task>.<attempt>`. The worker answers
 * through the normal complete/fail routes with that lease. If a publish
 * fails, or QStash gives up on the worker, the lease runs out and the sweep
 * queues the task again; the next pass claims it as a new attempt, under a
 * new deduplication id.
 */
import type { Sql } from "../db/sql.ts";
import { claimTasks } from "../engine/tasks.ts";
import type { Logger } from "../http/logger.ts";
import type { QstashPublisher } from "../qstash/publish.ts";

/** Options of {@link pushReadyTasks}. */
export interface PushOptions {
  sql: Sql;
  publisher: QstashPublisher;
  /** Only this pool (default: every unpaused push pool). */
  pool?: string;
  /** Most tasks pushed in one pass (default 500); the rest wait for the next. */
  limit?: number;
  /**
   * Public base URL of this deployment: when set, each message carries the
   * complete and fail URLs of its task, so a worker needs no configuration
   * beyond its API key.
   */
  publicUrl?: string;
  log?: Logger;
}

/** The identity push claims are made under (what `GET /heartbeat/workers` would show). */
export const PUSH_WORKER = "qstash-push";
const CLAIM_BATCH = 50;

/** Claim the ready tasks of push pools and publish them to the pools' URLs; returns how many. */
export async function pushReadyTasks(opts: PushOptions): Promise<number> {
  const pools = await opts.sql<{ name: string; url: string }>`
    select name, url from edgeflow.pools
     where type = 'push' and not paused and url is not null
       and (${opts.pool ?? null}::text is null or name = ${opts.pool ?? null}::text)
     order by name`;
  let left = opts.limit ?? 500;
  let pushed = 0;
  for (const pool of pools) {
    while (left > 0) {
      const tasks = await claimTasks(
        opts.sql,
        pool.name,
        null,
        Math.min(CLAIM_BATCH, left),
        PUSH_WORKER,
      );
      left -= tasks.length;
      const sent = await Promise.allSettled(tasks.map((task) =>
        opts.publisher.publishDelayed({
          url: pool.url,
          body: opts.publicUrl
            ? { ...task, callbacks: callbacks(opts.publicUrl, task.task) }
            : task,
          delaySeconds: 0,
          deduplicationId: `${task.task}.${task.attempt}`,
        })
      ));
      sent.forEach((s, i) => {
        if (s.status === "fulfilled") pushed++;
        else {
          // Claimed but not delivered: the lease expires and the sweep re-queues it.
          opts.log?.("error", "push delivery failed", {
            pool: pool.name,
            task: tasks[i].task,
            error: String(s.reason),
          });
        }
      });
      if (tasks.length < CLAIM_BATCH) break;
    }
  }
  return pushed;
}

function callbacks(publicUrl: string, task: string) {
  const base = `${publicUrl.replace(/\/+$/, "")}/heartbeat/tasks/${task}`;
  return { complete: `${base}/complete`, fail: `${base}/fail` };
}
