/**
 * What a handler gets: the task's identity and input, an abort signal and a
 * logger bound to the task.
 *
 * The context is built in one place from a claimed task and the worker's
 * `ContextDeps`. Capabilities that need the control plane (`runDeployment`
 * for subflows, `variables`) will be added as fields of `TaskContext` built
 * here from `deps.client`, which already carries the URL, key and fetch —
 * handlers and the worker loop do not change.
 */
import type { ClaimedTask, ProtocolClient } from "./client.ts";
import type { Logger } from "./deps.ts";

/** The input of a task, as the engine assembles it (product.md, "Execution rules"). */
export interface TaskInput {
  /** The run's parameters. */
  run: Record<string, unknown>;
  /** Outputs of the step's dependencies, keyed by slug. */
  deps: Record<string, unknown>;
  /** The step's static `args`. */
  args: unknown;
  /** The element of a map step's task (absent for other steps). */
  item?: unknown;
}

/** A logger bound to one task: every line carries its task, run and step. */
export interface TaskLogger {
  /** Progress worth keeping. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something odd that the handler recovered from. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The argument of a handler. */
export interface TaskContext {
  /** The task id: stable across attempts, a good idempotency key. */
  taskId: string;
  /** The flow run this task belongs to. */
  runId: string;
  /** The flow's name. */
  flow: string;
  /** The step's slug. */
  step: string;
  /** The handler name the step asked for (the key in `handlers`). */
  handler: string;
  /** 1 on the first attempt. */
  attempt: number;
  /** Attempts allowed in all; on the last one a retryable error fails the step too. */
  maxAttempts: number;
  /** Position of a map task in its step (0 otherwise). */
  taskIndex: number;
  /** Run parameters, dependency outputs, static args and the map item. */
  input: TaskInput;
  /**
   * Aborted when the result would not be accepted any more: the run was
   * cancelled, the lease was lost, or `stop()` timed out. `signal.reason` is
   * a `TaskAbortedError` whose `reason` says which. Pass it to `fetch` and
   * other cancellable calls.
   */
  signal: AbortSignal;
  /** Structured logging through the worker's logger, tagged with the task. */
  log: TaskLogger;
  /** The name of the worker running the task. */
  worker: string;
}

/** A task handler: its return value (JSON-serialisable; `undefined` → `null`) is the output. */
export type Handler = (ctx: TaskContext) => unknown | Promise<unknown>;

/** What the worker lends to every context. */
export interface ContextDeps {
  worker: string;
  logger: Logger;
  /** For control-plane capabilities to come (`runDeployment`, `variables`). */
  client: ProtocolClient;
}

/** Builds the context of one claimed task. */
export function createTaskContext(
  task: ClaimedTask,
  signal: AbortSignal,
  deps: ContextDeps,
): TaskContext {
  const where = { task: task.task, run: task.run_id, flow: task.flow, step: task.step };
  const line =
    (level: "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) =>
      deps.logger(level, message, { ...where, ...fields });
  return {
    taskId: task.task,
    runId: task.run_id,
    flow: task.flow,
    step: task.step,
    handler: task.handler,
    attempt: task.attempt,
    maxAttempts: task.max_attempts,
    taskIndex: task.task_index ?? 0,
    input: task.input ?? { run: {}, deps: {}, args: null },
    signal,
    log: { info: line("info"), warn: line("warn"), error: line("error") },
    worker: deps.worker,
  };
}
