/**
 * `--executor docker`: each task runs in a container, as Prefect's docker
 * worker runs a flow run. The image and its settings come from the run's
 * deployment (`job_variables`: image, env, volumes, network, pull policy,
 * command), the code to call from the flow's entrypoint; the container
 * gets the task on stdin (runner_io.ts) and runs
 * `python -m edgeflow.run <entrypoint>` unless `command` says otherwise.
 *
 * The docker CLI is a command line, so podman (`--docker-bin podman`, or
 * `"podman --runtime runc"`) works alike. Containers are named after the
 * task attempt so a cancel can `docker stop` exactly that one; `--rm`
 * removes them when they end.
 */
import type { Handler, TaskContext } from "../worker/context.ts";
import { NonRetryableError } from "../worker/errors.ts";
import type { Spawn } from "./child.ts";
import { runChildTask } from "./child_task.ts";
import type { JobVariables, RunJob } from "./job.ts";
import { childEnv, commandArgv, entrypointOf, runnerInput } from "./runner_io.ts";

/** The container command when the job names none: the Python SDK's runner. */
export const DEFAULT_CONTAINER_COMMAND = ["python", "-m", "edgeflow.run"];

/** Options of the docker executor. */
export interface DockerExecutorOptions {
  /** The docker CLI and its global flags, e.g. `["podman", "--runtime", "runc"]`. */
  docker: string[];
  spawn: Spawn;
  runJob: (runId: string, signal?: AbortSignal) => Promise<RunJob>;
  /** Seconds `docker stop` waits before it kills (default 10, as docker's). */
  stopSeconds?: number;
}

/** Docker's `--pull` for trex's and Prefect's pull policy names. */
export function pullFlag(policy: string | undefined): string | null {
  if (!policy) return null;
  const key = policy.toLowerCase().replace(/[_-]/g, "");
  const map: Record<string, string> = {
    always: "always",
    ifnotpresent: "missing",
    missing: "missing",
    never: "never",
  };
  const flag = map[key];
  if (!flag) throw new NonRetryableError(`unknown pull policy ${policy}`);
  return flag;
}

/** The container name of a task attempt (unique per attempt, safe for docker). */
export function containerName(ctx: TaskContext): string {
  return `edgeflow-${ctx.taskId}-${ctx.attempt}`;
}

/** `docker run …` arguments for one task (after the docker binary and its global flags). */
export function dockerRunArgs(
  ctx: TaskContext,
  image: string,
  entrypoint: string,
  job: JobVariables,
): string[] {
  const args = ["run", "--rm", "-i", "--name", containerName(ctx)];
  args.push("--label", `edgeflow.run=${ctx.runId}`, "--label", `edgeflow.task=${ctx.taskId}`);
  const pull = pullFlag(job.pull_policy ?? job.image_pull_policy);
  if (pull) args.push(`--pull=${pull}`);
  if (job.network) args.push("--network", job.network);
  for (const volume of job.volumes ?? []) args.push("-v", volume);
  const env = childEnv(job.env, ctx, entrypoint);
  // Names only: the values travel in the child's environment, not on a
  // command line that `ps` shows to every user of the machine.
  for (const name of Object.keys(env)) args.push("-e", name);
  args.push(image);
  args.push(
    ...(job.command ? commandArgv(job.command) : [...DEFAULT_CONTAINER_COMMAND, entrypoint]),
  );
  return args;
}

/** The handler that runs every task of the pool in a container. */
export function dockerExecutor(o: DockerExecutorOptions): Handler {
  const [bin, ...globals] = o.docker;
  const stopSeconds = o.stopSeconds ?? 10;
  return async (ctx) => {
    const run = await o.runJob(ctx.runId, ctx.signal);
    const image = run.job.image ?? run.image;
    if (!image) {
      throw new NonRetryableError(
        `no image for flow ${run.flow}: set job_variables.image on deployment ` +
          `${run.deployment ?? "(none: an ad hoc run)"} or the flow's image`,
      );
    }
    const entrypoint = entrypointOf(ctx.handler, run.entrypoint);
    if (!entrypoint && !run.job.command) {
      throw new NonRetryableError(
        `step ${ctx.step}: neither its handler (${ctx.handler}) nor flow ${run.flow} names an ` +
          "entrypoint path/module.py:function, and the job has no command",
      );
    }
    const name = containerName(ctx);
    const ep = entrypoint ?? "";
    return await runChildTask(ctx, o.spawn, {
      command: bin,
      args: [...globals, ...dockerRunArgs(ctx, image, ep, run.job)],
      env: childEnv(run.job.env, ctx, ep),
      stdin: runnerInput(ctx, ep),
      label: `container ${name}`,
      // Stopping the client would leave the container running: stop the container.
      stop: async (child) => {
        const stopper = o.spawn(bin, [...globals, "stop", "-t", String(stopSeconds), name], {});
        await Promise.all([stopper.status, drain(stopper.stdout), drain(stopper.stderr)]);
        child.kill("SIGTERM");
      },
    }, stopSeconds * 1000);
  };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _ of stream) { /* discard */ }
}
