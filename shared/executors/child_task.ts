/**
 * One task attempt as a child process, for both executors: start it, stream
 * its output to the task's log, stop it when the task's signal aborts
 * (cancel, lost lease, shutdown), and turn its exit into an output or an
 * error. A non-zero exit fails the attempt (retryable) with stderr's tail.
 */
import type { TaskContext } from "../worker/context.ts";
import { TaskAbortedError } from "../worker/errors.ts";
import { type Child, type Spawn, superviseChild } from "./child.ts";
import { resultOf } from "./runner_io.ts";

/** A child to start for one task, and how to stop it. */
export interface ChildPlan {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  stdin: string;
  /** Ends the child when the task is aborted (default: SIGTERM, SIGKILL after `graceMs`). */
  stop?: (child: Child) => Promise<void>;
  /** What to call the child in errors ("container ef-…", "process python3"). */
  label: string;
}

/** Runs `plan` for `ctx` and returns the task's output, or throws its error. */
export async function runChildTask(
  ctx: TaskContext,
  spawn: Spawn,
  plan: ChildPlan,
  graceMs: number,
): Promise<unknown> {
  let child: Child;
  try {
    child = spawn(plan.command, plan.args, { env: plan.env, cwd: plan.cwd, stdin: plan.stdin });
  } catch (err) {
    throw new Error(`cannot start ${plan.command}: ${(err as Error).message}`);
  }
  const stop = plan.stop ?? ((c: Child) => terminate(c, graceMs));
  const out = await superviseChild(
    child,
    {
      out: (line) => ctx.log.info(line, { stream: "stdout" }),
      err: (line) => ctx.log.warn(line, { stream: "stderr" }),
    },
    ctx.signal,
    () => stop(child),
  );
  if (ctx.signal.aborted) {
    throw ctx.signal.reason instanceof TaskAbortedError
      ? ctx.signal.reason
      : new Error(`${plan.label} stopped: the task was aborted`);
  }
  if (out.code !== 0) {
    const tail = out.stderrTail.join("\n").trim();
    const error = new Error(
      `${plan.label} exited with code ${out.code}${tail ? `:\n${tail}` : " (no stderr)"}`,
    );
    error.name = "ExitError";
    throw error;
  }
  try {
    return resultOf(out.stdout);
  } catch (err) {
    throw new Error(`${plan.label} printed a result that is not JSON: ${(err as Error).message}`);
  }
}

/** SIGTERM, then SIGKILL when the child outlives `graceMs`. */
async function terminate(child: Child, graceMs: number): Promise<void> {
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
  const ended = await Promise.race([child.status.then(() => "ended" as const), late]);
  clearTimeout(timer);
  if (ended === "late") child.kill("SIGKILL");
}
