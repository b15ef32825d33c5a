/** Runs: start, cancel, read, list. Thin calls to the SQL engine. */
import type { Sql } from "../db/sql.ts";
import { afterSubflowsDue } from "./subflows.ts";

export interface StartRunOptions {
  deploymentId?: string | null;
  pool?: string;
  queue?: string;
  /** The deployment's and the trigger's tags; the flow version's are added in SQL. */
  tags?: string[];
  idempotencyScope?: string | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  parentTaskId?: string | null;
  scheduledTime?: Date | string | null;
  /** The run's W3C trace context (shared/otel/traceparent.ts); absent: the run id is its trace. */
  trace?: import("../otel/traceparent.ts").RunTrace;
}

export type StartRunResult =
  | {
    error?: undefined;
    run_id: string;
    status: string;
    created: boolean;
    flow: string;
    version: number;
  }
  | { error: "not_found" | "archived" | "unknown_pool" | "idempotency_conflict"; run_id?: string };

/** Start a run of a flow version: creates step states and enqueues root steps. */
export async function startRun(
  sql: Sql,
  flowVersionId: string,
  parameters: Record<string, unknown>,
  opts: StartRunOptions = {},
): Promise<StartRunResult> {
  const o = {
    deployment_id: opts.deploymentId ?? undefined,
    pool: opts.pool,
    queue: opts.queue,
    tags: opts.tags,
    idempotency_scope: opts.idempotencyScope ?? undefined,
    idempotency_key: opts.idempotencyKey ?? undefined,
    request_hash: opts.requestHash ?? undefined,
    parent_task_id: opts.parentTaskId ?? undefined,
    scheduled_time: opts.scheduledTime instanceof Date
      ? opts.scheduledTime.toISOString()
      : opts.scheduledTime ?? undefined,
    trace: opts.trace,
  };
  const [row] = await sql<{ r: StartRunResult; due: boolean }>`
    select edgeflow.start_run(${flowVersionId}::uuid, ${JSON.stringify(parameters)}::text::jsonb,
                              ${JSON.stringify(o)}::text::jsonb) as r,
           edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  return row.r;
}

export interface RunDocument {
  id: string;
  status: string;
  flow: string;
  version: number;
  deployment: string | null;
  parameters: Record<string, unknown>;
  output: unknown;
  error: unknown;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  steps: {
    slug: string;
    status: string;
    attempts: number;
    tasks: number;
    output: unknown;
    error: unknown;
    /** Why the step's queued work is not being claimed, when something is known to hold it. */
    waiting_for?: WaitingFor | null;
  }[];
  [key: string]: unknown;
}

/**
 * Why a step waits (`edgeflow.run_waiting_for`, migration 0071): `reason` is
 * one of no_worker, pool_paused, queue_paused, concurrency_limit,
 * retry_backoff, start_delay, scheduled; `message` says it in words.
 */
export interface WaitingFor {
  reason: string;
  message: string;
  pool?: string;
  queue?: string;
  handler?: string;
  limit?: string;
  until?: string;
}

/** A run document with each step's `waiting_for` (null when nothing is known to hold it). */
export function withWaitingFor(
  run: RunDocument,
  waiting: Record<string, WaitingFor> | null,
): RunDocument {
  return {
    ...run,
    steps: run.steps.map((s) => ({ ...s, waiting_for: waiting?.[s.slug] ?? null })),
  };
}

/** The run document of `GET /trigger/runs/:id`, or null. */
export async function getRun(sql: Sql, runId: string): Promise<RunDocument | null> {
  const [row] = await sql<{ r: RunDocument | null; w: Record<string, WaitingFor> | null }>`
    select edgeflow.run_json(${runId}::uuid) as r, edgeflow.run_waiting_for(${runId}::uuid) as w`;
  return row?.r ? withWaitingFor(row.r, row.w) : null;
}

/** Cancel a run (CANCELLING while tasks run, then CANCELLED). */
export async function cancelRun(
  sql: Sql,
  runId: string,
): Promise<{ error?: string; run_id?: string; status?: string; changed?: boolean }> {
  const [row] = await sql<{ r: { error?: string; status?: string; changed?: boolean } }>`
    select edgeflow.cancel_run(${runId}::uuid) as r`;
  return row.r;
}
