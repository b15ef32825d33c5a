/**
 * The worker side of the engine: claim, complete, fail, heartbeat, sweep.
 * Each is one SQL function call, one round trip, one transaction.
 */
import type { Sql } from "../db/sql.ts";
import { afterSubflowsDue } from "./subflows.ts";

export type { ClaimedTask } from "../api/claimed_task.ts";
import type { ClaimedTask } from "../api/claimed_task.ts";

export type ResultOutcome =
  | { ok: true; task: string; retry_at?: string | null; run_status?: string; attempt?: number }
  | { error: "not_found" | "stale_lease" | "run_not_running"; status?: string };

/** Claim up to `qty` tasks of `pool` for `handlers` (null: any handler). */
export async function claimTasks(
  sql: Sql,
  pool: string,
  handlers: string[] | null,
  qty: number,
  worker: string | null = null,
): Promise<ClaimedTask[]> {
  const [row] = await sql<{ r: ClaimedTask[] }>`
    select edgeflow.claim_tasks(${pool}, ${handlers ? JSON.stringify(handlers) : null}::text::jsonb,
                                ${qty}::int, ${worker}) as r`;
  return row.r;
}

/** Complete a task under its lease; dependents are enqueued in the same transaction. */
export async function completeTask(
  sql: Sql,
  taskId: string,
  lease: string,
  output: unknown,
): Promise<ResultOutcome> {
  // subflows_due() after complete_task in the select list: evaluated after it, in its statement.
  const [row] = await sql<{ r: ResultOutcome; due: boolean }>`
    select edgeflow.complete_task(${taskId}::uuid, ${lease}::uuid,
                                  ${JSON.stringify(output ?? null)}::text::jsonb) as r,
           edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  return row.r;
}

/** A suspension's outcome: `resumed`, a lookback found the event at once (the task is queued). */
export type SuspendOutcome =
  | { ok: true; task: string; resumed: boolean }
  | { error: "not_found" | "stale_lease" | "run_not_running"; status?: string }
  | { error: "not_suspendable"; message: string };

/**
 * End an attempt as "suspended" under its lease (a handler's
 * `ctx.waitForEvent`): the task waits, holding no lease or slot, until the
 * event or the timeout queues it again (edgeflow.suspend_task).
 */
export async function suspendTask(
  sql: Sql,
  taskId: string,
  lease: string,
  wait: Record<string, unknown>,
): Promise<SuspendOutcome> {
  const [row] = await sql<{ r: SuspendOutcome }>`
    select edgeflow.suspend_task(${taskId}::uuid, ${lease}::uuid,
                                 ${JSON.stringify(wait)}::text::jsonb) as r`;
  return row.r;
}

/** Fail an attempt under its lease; retried with exponential backoff while attempts remain. */
export async function failTask(
  sql: Sql,
  taskId: string,
  lease: string,
  error: { message: string; [key: string]: unknown },
  retryable = true,
): Promise<ResultOutcome> {
  const [row] = await sql<{ r: ResultOutcome }>`
    select edgeflow.fail_task(${taskId}::uuid, ${lease}::uuid, ${
    JSON.stringify(error)
  }::text::jsonb,
                              ${retryable}) as r`;
  return row.r;
}

export interface HeartbeatInput {
  worker: string;
  pool: string;
  handlers?: string[] | null;
  capacity: number;
  running: { task: string; lease: string }[];
  heartbeatSeconds: number;
  /**
   * The calling key (migration 0067): a worker name belongs to the key that
   * first used it. `id` null is the bootstrap admin key; admins may use any name.
   */
  caller: { id: string | null; admin: boolean };
}

export interface HeartbeatResult {
  tasks: ClaimedTask[];
  cancel: string[];
  lost: string[];
  extended: number;
}

/** Liveness + lease extension + claim, in one statement; refused when the name is another key's. */
export async function heartbeat(
  sql: Sql,
  h: HeartbeatInput,
): Promise<HeartbeatResult | { error: "worker_name_taken" }> {
  const [row] = await sql<{ r: HeartbeatResult | { error: "worker_name_taken" } }>`
    select edgeflow.worker_heartbeat(${h.caller.id}::uuid, ${h.caller.admin},
                              ${h.worker}, ${h.pool},
                              ${h.handlers ? JSON.stringify(h.handlers) : null}::text::jsonb,
                              ${h.capacity}::int, ${JSON.stringify(h.running)}::text::jsonb,
                              ${h.heartbeatSeconds}::int) as r`;
  return row.r;
}

/** Extend live leases; report lost ones and those of cancelled runs. */
export async function extendLeases(
  sql: Sql,
  running: { task: string; lease: string }[],
): Promise<{ lost: string[]; cancel: string[]; extended: number }> {
  const [row] = await sql<{ r: { lost: string[]; cancel: string[]; extended: number } }>`
    select edgeflow.extend_leases(${JSON.stringify(running)}::text::jsonb) as r`;
  return row.r;
}

/** Re-queue (or fail) tasks whose lease expired. */
export async function sweepExpired(
  sql: Sql,
  limit = 1000,
): Promise<{ swept: number; requeued: number; failed: number; cancelled: number }> {
  const [row] = await sql<
    { r: { swept: number; requeued: number; failed: number; cancelled: number } }
  >`
    select edgeflow.sweep_expired(${limit}::int) as r`;
  return row.r;
}

/**
 * Give claimed tasks back at once (their response could not be delivered):
 * queued again and visible now, the attempt not counted. Returns how many
 * were still current and handed back.
 */
export async function handBackClaims(
  sql: Sql,
  claims: { task: string; lease: string }[],
): Promise<number> {
  if (!claims.length) return 0;
  const [row] = await sql<{ n: number }>`
    select edgeflow.hand_back_claims(${JSON.stringify(claims)}::text::jsonb) as n`;
  return row.n;
}
