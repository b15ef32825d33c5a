/**
 * The runner protocol: what a task's child process gets and what it gives
 * back (docs/executors.md, "The runner protocol").
 *
 * In: one JSON document on stdin, `{entrypoint, parameters, task}`, and the
 * same identity in `EDGEFLOW_*` variables. Out: the line
 * `::edgeflow-result:: <json>` on stdout is the output; without one (a
 * `command` that is not our runner), the last non-empty stdout line, as
 * JSON when it parses, else as a string. Exit code 0 completes the attempt,
 * anything else fails it with the tail of stderr.
 */
import type { TaskContext } from "../worker/context.ts";

/** The prefix of the result line the runner prints. */
export const RESULT_MARKER = "::edgeflow-result::";

/** Where a task's code is: `path/module.py:function`. */
export const ENTRYPOINT = /^[^:\s]+\.py:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The entrypoint of a task: its handler when it names one (a trex flow's
 * implicit step), else the flow's. Null when neither does.
 */
export function entrypointOf(handler: string, flowEntrypoint: string | null): string | null {
  if (ENTRYPOINT.test(handler)) return handler;
  return flowEntrypoint && ENTRYPOINT.test(flowEntrypoint) ? flowEntrypoint : null;
}

/**
 * The function's keyword arguments: the run's parameters overlaid with the
 * step's static `args` when those are an object (a Celery-style step).
 */
export function parametersOf(ctx: TaskContext): Record<string, unknown> {
  const args = ctx.input.args;
  const own = args && typeof args === "object" && !Array.isArray(args) ? args : {};
  return { ...ctx.input.run, ...own as Record<string, unknown> };
}

/** The stdin document. */
export function runnerInput(ctx: TaskContext, entrypoint: string): string {
  return JSON.stringify({
    entrypoint,
    parameters: parametersOf(ctx),
    task: {
      id: ctx.taskId,
      run_id: ctx.runId,
      flow: ctx.flow,
      step: ctx.step,
      attempt: ctx.attempt,
      input: ctx.input,
    },
  });
}

/**
 * A task child's environment: `PYTHONUNBUFFERED=1`, the job's `env`, then
 * the `EDGEFLOW_*` variables. Python buffers a piped stdout in 8 KiB
 * blocks, so without it a flow's `print()` lines reach the task's logs only
 * when it exits — and never when a cancel stops it
 * (tests/executors/process_test.ts reads a line while the process runs).
 * A job's own `env` may set it back to empty.
 */
export function childEnv(
  jobEnv: Record<string, string | number | boolean> | undefined,
  ctx: TaskContext,
  entrypoint: string,
): Record<string, string> {
  return { PYTHONUNBUFFERED: "1", ...envStrings(jobEnv), ...runnerEnv(ctx, entrypoint) };
}

/** The `EDGEFLOW_*` variables of a task's child. */
export function runnerEnv(ctx: TaskContext, entrypoint: string): Record<string, string> {
  return {
    EDGEFLOW_TASK_ID: ctx.taskId,
    EDGEFLOW_RUN_ID: ctx.runId,
    EDGEFLOW_FLOW: ctx.flow,
    EDGEFLOW_STEP: ctx.step,
    EDGEFLOW_ATTEMPT: String(ctx.attempt),
    EDGEFLOW_ENTRYPOINT: entrypoint,
  };
}

/** The output in a child's stdout lines (see the header); null when it printed nothing. */
export function resultOf(stdout: string[]): unknown {
  for (let i = stdout.length - 1; i >= 0; i--) {
    if (stdout[i].startsWith(RESULT_MARKER)) {
      return JSON.parse(stdout[i].slice(RESULT_MARKER.length));
    }
  }
  const last = stdout.findLast((line) => line.trim() !== "");
  if (last === undefined) return null;
  try {
    return JSON.parse(last);
  } catch {
    return last;
  }
}

/** Job variables' `env` as strings. */
export function envStrings(env: Record<string, string | number | boolean> | undefined) {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v)]));
}

/** A `command` job variable as argv (a string is split on whitespace). */
export function commandArgv(command: string | string[]): string[] {
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}
