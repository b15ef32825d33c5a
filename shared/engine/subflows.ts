/**
 * Subflows: steps with `deployment` run a child deployment (migrations
 * 0040–0044). Starting children, settling parent tasks when children end and
 * cancelling children with their parent all happen in SQL, in the
 * transactions of the state changes that cause them. What is left for the
 * tick is time: subflow retries whose backoff is over and delayed steps, and
 * a safety net for child runs whose parent stopped waiting.
 */
import type { Sql } from "../db/sql.ts";

/** What one subflow pass of the tick did. */
export interface SubflowTickReport {
  /** Child runs started for due subflow tasks (retries, start delays). */
  started: number;
  /** Live child runs cancelled because their parent task no longer waits for them. */
  orphans_cancelled: number;
}

/** Start due subflow tasks and cancel orphaned children: at most `limit` of each. */
export async function subflowTick(sql: Sql, limit = 100): Promise<SubflowTickReport> {
  const [row] = await sql<{ r: SubflowTickReport }>`
    select edgeflow.subflow_tick(${limit}::int) as r`;
  return row.r;
}
