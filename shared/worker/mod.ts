/**
 * The edgeflow worker SDK: run task handlers against an edgeflow control
 * plane from any runtime with Web-standard `fetch` and timers (Deno, Node,
 * Bun, Cloudflare Workers, Supabase Edge Functions).
 *
 *   const worker = createWorker({
 *     url: "http://localhost:8000",
 *     key: "ef_…",
 *     pool: "default",
 *     handlers: { "etl.extract": async (ctx) => ({ rows: 42 }) },
 *     capacity: 4,
 *   });
 *   await worker.start();
 *   // … on SIGTERM (wired by the runtime adapter, not here):
 *   await worker.stop({ timeoutMs: 30_000 });
 */
export { createWorker, type StopOptions, type Worker, type WorkerState } from "./worker.ts";
export type { WorkerOptions } from "./options.ts";
export type { Handler, TaskContext, TaskInput, TaskLogger } from "./context.ts";
export { type WaitForEventOptions, WaitTimeoutError } from "./wait_for_event.ts";
export type { Listener, WorkerEvents } from "./events.ts";
export {
  type AbortReason,
  HttpError,
  KeyRefusedError,
  NonRetryableError,
  type ReportedError,
  TaskAbortedError,
  WorkerStartError,
} from "./errors.ts";
export { DeploymentRunError } from "./subflow_client.ts";
export {
  type ClaimedTask,
  DEFAULT_RETRY,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ReportOutcome,
  type RetryPolicy,
} from "./client.ts";
export {
  type Clock,
  consoleLogger,
  type Logger,
  type LogLevel,
  silentLogger,
  type TimerHandle,
} from "./deps.ts";
