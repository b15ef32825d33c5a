/**
 * Wait timeouts from QStash delayed messages (issue 16), when QStash is
 * configured: each wait's timeout gets one delayed message to
 * `POST /trigger/waits/timeouts`, delivered at its `timeout_at`, so a
 * timeout fires on time without a frequent tick. The message carries no
 * authority of its own: its handler calls `edgeflow.fire_wait_timeouts()`,
 * which fires whatever is due by `edgeflow.now()` and whose delete of a
 * wait's row decides against a racing event — so a message delivered twice,
 * early, late or after the event is harmless, and the tick stays the
 * fallback for any message that was never published or never arrived.
 *
 * Published after requests that may have begun waits (in the background the
 * runtime offers) and by the tick, from `edgeflow.claim_wait_wakeups`, which
 * marks each wait sent once.
 */
import type { Sql } from "../db/sql.ts";
import type { QstashPublisher } from "./publish.ts";
import type { Logger } from "../http/logger.ts";
import { afterSubflowsDue } from "../engine/subflows.ts";

/** Path of the QStash callback that fires due wait timeouts. */
export const WAIT_TIMEOUTS_PATH = "/trigger/waits/timeouts";

/** Where wake-ups go: the publisher and the callback's public URL. */
export interface WaitWake {
  publisher: QstashPublisher;
  url: string;
}

/** The body of one wake-up: the wait it was published for. */
export interface WaitWakeBody {
  run_id: string;
  slug: string;
  timeout_at: string;
}

/**
 * Publish a delayed message for each wait that has none yet (at most
 * `limit` per call). Returns how many were published. A failed publish is
 * logged: the tick fires that timeout.
 */
export async function publishWaitWakeups(
  sql: Sql,
  wake: WaitWake,
  log: Logger,
  limit = 100,
): Promise<number> {
  const [row] = await sql<{ w: (WaitWakeBody & { created_at: string })[] }>`
    select edgeflow.claim_wait_wakeups(${limit}::int) as w`;
  let published = 0;
  await Promise.all(row.w.map(async (w) => {
    try {
      await wake.publisher.publishDelayed({
        url: wake.url,
        body: { run_id: w.run_id, slug: w.slug, timeout_at: w.timeout_at },
        notBefore: new Date(w.timeout_at),
        // One message per wait, even if it were claimed again.
        deduplicationId: `wait-${w.run_id}-${w.slug}-${Date.parse(w.created_at)}`,
      });
      published++;
    } catch (err) {
      log("warn", "QStash wake-up of a wait not published; the tick fires it", {
        run_id: w.run_id,
        slug: w.slug,
        error: String(err),
      });
    }
  }));
  return published;
}

/**
 * What a wake-up does: fire every due timeout, then say whether the wait it
 * was for is still open (QStash delivered early by our clock, or its run
 * was locked by an event just then): then `retryAfter` seconds, for QStash
 * to deliver it again.
 */
export async function fireWaitWakeup(
  sql: Sql,
  body: { run_id?: string; slug?: string },
): Promise<{ timeouts: number; retryAfter: number | null }> {
  const [row] = await sql<{ timeouts: number; due: boolean }>`
    select edgeflow.fire_wait_timeouts() as timeouts, edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  // A second statement: the first one's snapshot still shows the waits it ended. The wait
  // still open: not due by our clock, or its run was locked (an event ending it, most likely).
  const [left] = await sql<{ s: number }>`
    select greatest(1, ceil(extract(epoch from w.timeout_at - edgeflow.now())))::int as s
      from edgeflow.waits w
     where w.run_id = ${body.run_id ?? null}::uuid and w.slug = ${body.slug ?? null}`;
  return { timeouts: row.timeouts, retryAfter: left ? left.s : null };
}
