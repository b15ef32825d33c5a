/**
 * What a handler gets: the task's identity and input, an abort signal and a
 * logger bound to the task.
 *
 * The context is built in one place from a claimed task and the worker's
 * `ContextDeps`. Capabilities that need the control plane (`runDeployment`
 * for subflows, `variables`) are built here from `deps.client`, which
 * carries the URL, key and fetch (subflow_client.ts) — handlers and the
 * worker loop do not change.
 */
import type { ClaimedTask, ProtocolClient } from "./client.ts";
import type { Logger, LogLevel } from "./deps.ts";
import { outsideCapture } from "./console_capture.ts";
import { TaskWaits, type WaitForEventOptions } from "./wait_for_event.ts";
import {
  type DeploymentRun,
  deploymentRunner,
  type RunDeploymentOptions,
  type TaskVariables,
  taskVariables,
} from "./subflow_client.ts";

export type { DeploymentRun, RunDeploymentOptions, TaskVariables, WaitForEventOptions };
export { DeploymentRunError } from "./subflow_client.ts";

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

/**
 * A logger bound to one task: every line carries its task, run and step, goes
 * to the worker's logger and is shipped to the run's logs
 * (`GET /trigger/runs/:id/logs`, the run page).
 */
export interface TaskLogger {
  /** Detail for debugging; shipped too (readers filter with `?level=`). */
  debug(message: string, fields?: Record<string, unknown>): void;
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
  /**
   * The attempt's W3C trace context (`traceparent`, and the trigger's
   * `tracestate`): start the handler's spans from it, e.g. with
   * `propagation.extract(context.active(), ctx.trace)` in @opentelemetry/api,
   * or pass it on as headers. Its parent span is the attempt's `task` span
   * (docs/tracing.md). Absent from a control plane older than this field.
   */
  trace?: { traceparent: string; tracestate?: string | null };
  /**
   * Run a deployment with `parameters` (overlaying its defaults) and, unless
   * `{ wait: false }`, wait for its run: resolves with `{ run_id, status,
   * output }` when it completes, throws a retryable `DeploymentRunError` when
   * it ends FAILED, CANCELLED or CRASHED, a `NonRetryableError` for an
   * unknown deployment. Honours `signal`. Needs a key with scope `trigger`
   * (besides `worker`), or `admin`.
   */
  runDeployment(
    name: string,
    parameters?: Record<string, unknown>,
    options?: RunDeploymentOptions,
  ): Promise<DeploymentRun>;
  /**
   * Named JSON values (`/deploy/variables`): how a subflow hands a result to
   * the flow that started it. Needs a key with scope `deploy`, or `admin`.
   */
  variables: TaskVariables;
  /**
   * Wait, durably, for the event `name` with `options.key` (docs/events.md,
   * "Waiting inside a handler"): the attempt ends "suspended", holding no
   * slot or lease, and the handler runs again from the top when the event
   * arrives, this call then resolving with its payload; or throwing
   * `WaitTimeoutError` after `options.timeout` seconds. Code before the call
   * runs again on each resumption: keep it idempotent. Not in map steps.
   */
  waitForEvent<T = unknown>(name: string, options: WaitForEventOptions): Promise<T>;
}

/** A task handler: its return value (JSON-serialisable; `undefined` → `null`) is the output. */
export type Handler = (ctx: TaskContext) => unknown | Promise<unknown>;

/** What the worker lends to every context. */
export interface ContextDeps {
  worker: string;
  logger: Logger;
  /** The control plane, for `runDeployment` and `variables`. */
  client: ProtocolClient;
  /** Where the task's lines are shipped to the control plane (log_shipper.ts); none: kept local. */
  ship?: (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;
}

const WAITS = new WeakMap<TaskContext, TaskWaits>();

/** The waits of a context built here: the suspension its handler asked for, if any. */
export function waitsOf(ctx: TaskContext): TaskWaits | undefined {
  return WAITS.get(ctx);
}

/** Builds the context of one claimed task. */
export function createTaskContext(
  task: ClaimedTask,
  signal: AbortSignal,
  deps: ContextDeps,
): TaskContext {
  const where = { task: task.task, run: task.run_id, flow: task.flow, step: task.step };
  const line = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    // The worker's logger may print to the console: not a second copy of the line.
    outsideCapture(() => deps.logger(level, message, { ...where, ...fields }));
    deps.ship?.(level, message, fields);
  };
  const waits = new TaskWaits(task);
  const ctx: TaskContext = {
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
    log: { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") },
    worker: deps.worker,
    trace: task.trace,
    runDeployment: deploymentRunner(deps.client, {
      taskId: task.task,
      attempt: task.attempt,
      signal,
      trace: task.trace,
    }),
    variables: taskVariables(deps.client, signal),
    waitForEvent: waits.waitForEvent as TaskContext["waitForEvent"],
  };
  WAITS.set(ctx, waits);
  return ctx;
}
