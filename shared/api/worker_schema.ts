/**
 * Bodies of the worker protocol (`heartbeat` function).
 *
 * These objects are not strict: workers are deployed on their own schedule,
 * and a newer worker that sends an extra field must keep getting work from
 * an older control plane instead of a 422 on every heartbeat.
 *
 * Lease tokens are opaque strings to this layer (the engine decides their
 * form); task ids are UUIDs.
 */
import { z } from "zod";
import { Handler, Name, Uuid } from "./names.ts";

/** A lease token as handed out with a task. */
export const LeaseToken = z.string().min(1).max(128);

/** Largest number of tasks one worker may hold or ask for in one call. */
export const MAX_WORKER_TASKS = 1000;

/** The body of `POST /heartbeat`. */
export const HeartbeatBody = z.object({
  worker: z.string().min(1).max(128).regex(/^[^\p{Cc}]*$/u, "must not contain control characters"),
  pool: Name,
  /** Handlers this worker implements; omitted: all. */
  handlers: z.array(Handler).max(1000).optional(),
  /** How many new tasks the worker wants now (0: only keep its leases). */
  capacity: z.number().int().min(0).max(MAX_WORKER_TASKS),
  /** Long poll: when nothing is there to claim, wait up to this long for work (server caps it). */
  wait_seconds: z.number().min(0).max(60).default(0),
  running: z.array(z.object({ task: Uuid, lease: LeaseToken })).max(MAX_WORKER_TASKS).default([]),
});
/** A validated heartbeat. */
export type HeartbeatInput = z.output<typeof HeartbeatBody>;

/** The body of `POST /heartbeat/tasks/:task/complete`. */
export const CompleteBody = z.object({
  lease: LeaseToken,
  // Not z.json(): the body came from JSON.parse, so re-walking a large output would only cost time.
  output: z.unknown().default(null),
});
/** A validated completion. */
export type CompleteInput = z.output<typeof CompleteBody>;

/** The body of `POST /heartbeat/tasks/:task/fail`; extra error fields (type, stack) are kept. */
export const FailBody = z.object({
  lease: LeaseToken,
  error: z.looseObject({
    message: z.string().max(65_536),
    retryable: z.boolean().default(true),
  }),
});
/** A validated failure report. */
export type FailInput = z.output<typeof FailBody>;

// --- Batched results (issue 12): many results in one call, each fenced and answered alone.

/**
 * `next` of a batch of results (completions or failures): the worker that sends the results also
 * asks for more work in the same call. After the results are committed, the
 * server runs this worker's heartbeat claim (no leases, no long poll) and
 * answers its tasks beside the results: one round trip per batch instead of
 * a completion and a heartbeat.
 */
export const ClaimNext = HeartbeatBody.pick({ worker: true, pool: true, handlers: true }).extend({
  capacity: z.number().int().min(1).max(MAX_WORKER_TASKS),
});
/** A validated `next`. */
export type ClaimNextInput = z.output<typeof ClaimNext>;

/** The body of `POST /heartbeat/tasks/complete`: many completions in one call. */
export const CompleteBatchBody = z.object({
  results: z.array(CompleteBody.extend({ task: Uuid })).min(1).max(MAX_WORKER_TASKS),
  next: ClaimNext.optional(),
});
/** A validated batch of completions. */
export type CompleteBatchInput = z.output<typeof CompleteBatchBody>;

/** The body of `POST /heartbeat/tasks/fail`: many failure reports in one call. */
export const FailBatchBody = z.object({
  results: z.array(FailBody.extend({ task: Uuid })).min(1).max(MAX_WORKER_TASKS),
  next: ClaimNext.optional(),
});
/** A validated batch of failure reports. */
export type FailBatchInput = z.output<typeof FailBatchBody>;
