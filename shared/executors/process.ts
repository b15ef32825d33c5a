/**
 * `--executor process`: each task runs as a local process, as Prefect's
 * process worker runs a flow run: `python3 edgeflow_run.py <entrypoint>`
 * in the job's `working_dir` (default: the worker's), with the job's `env`
 * added to the worker's environment, the task on stdin (runner_io.ts), or
 * the job's `command` instead of the runner.
 */
import type { Handler } from "../worker/context.ts";
import { NonRetryableError } from "../worker/errors.ts";
import type { Spawn } from "./child.ts";
import { runChildTask } from "./child_task.ts";
import type { RunJob } from "./job.ts";
import { childEnv, commandArgv, entrypointOf, runnerInput } from "./runner_io.ts";

/** Options of the process executor. */
export interface ProcessExecutorOptions {
  /** The runner's command line, entrypoint appended (e.g. `["python3", "…/edgeflow_run.py"]`). */
  runner: string[];
  spawn: Spawn;
  runJob: (runId: string, signal?: AbortSignal) => Promise<RunJob>;
  /** Working directory when the job names none (default: the worker's). */
  cwd?: string;
  /** How long a stopped process may take before it is killed (default 10 s). */
  graceMs?: number;
}

/** The handler that runs every task of the pool as a process. */
export function processExecutor(o: ProcessExecutorOptions): Handler {
  return async (ctx) => {
    const run = await o.runJob(ctx.runId, ctx.signal);
    const entrypoint = entrypointOf(ctx.handler, run.entrypoint);
    if (!entrypoint && !run.job.command) {
      throw new NonRetryableError(
        `step ${ctx.step}: neither its handler (${ctx.handler}) nor flow ${run.flow} names an ` +
          "entrypoint path/module.py:function, and the job has no command",
      );
    }
    const ep = entrypoint ?? "";
    const argv = run.job.command ? commandArgv(run.job.command) : [...o.runner, ep];
    return await runChildTask(ctx, o.spawn, {
      command: argv[0],
      args: argv.slice(1),
      cwd: run.job.working_dir ?? o.cwd,
      env: childEnv(run.job.env, ctx, ep),
      stdin: runnerInput(ctx, ep),
      label: `process ${argv[0]}`,
    }, o.graceMs ?? 10_000);
  };
}
