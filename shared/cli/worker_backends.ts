/**
 * What runs the tasks a `worker start` claims besides a module's own
 * handlers: the Celery bridge (`--celery`), or the container or process
 * executor (`--executor docker|process`). Each is one fallback handler for
 * every handler of the pool (or only those `--handlers` lists).
 */
import { celeryBridge } from "../celery/bridge.ts";
import { dockerExecutor } from "../executors/docker.ts";
import { jobReader } from "../executors/job.ts";
import { processExecutor } from "../executors/process.ts";
import type { Handler } from "../worker/context.ts";
import type { CommandContext } from "./command.ts";
import { CliError, EXIT, usageError } from "./io.ts";

/** The runner the process executor starts when the job names no command. */
const RUNNER = new URL("../../runners/python/edgeflow_run.py", import.meta.url);

/** Flags of the backends (merged into `worker start`'s). */
export const BACKEND_FLAGS = {
  celery: { kind: "string", arg: "REDIS_URL", help: "send tasks to Celery on this Redis broker" },
  "celery-backend": {
    kind: "string",
    arg: "REDIS_URL",
    help: "Celery's Redis result backend (default: the broker)",
  },
  "celery-queue": { kind: "string", arg: "QUEUE", help: "Celery queue (default: celery)" },
  "celery-pass-input": {
    kind: "boolean",
    help: "also pass run parameters and dependency outputs as kwarg `edgeflow`",
  },
  executor: {
    kind: "string",
    arg: "KIND",
    help: "run tasks in `docker` containers or as `process`es",
  },
  "docker-bin": {
    kind: "string",
    arg: "CMD",
    help: 'docker CLI, with global flags (default docker; e.g. "podman --runtime runc")',
  },
  python: { kind: "string", arg: "CMD", help: "process executor's Python (default python3)" },
  handlers: {
    kind: "string",
    arg: "A,B",
    help: "with --celery/--executor: only these handlers (default: all of the pool)",
  },
} as const;

/** The fallback handler and how to release it, or null when no backend is asked for. */
export interface Backend {
  handler: Handler;
  /** Handler names to claim (null: every handler of the pool). */
  only: string[] | null;
  describe: string;
  close(): void;
}

/** Builds the backend the flags ask for. */
export async function backendOf(ctx: CommandContext, url: string, key: string) {
  const celery = ctx.flags.string("celery");
  const executor = ctx.flags.string("executor");
  if (!celery && !executor) {
    if (ctx.flags.string("handlers") !== undefined) {
      throw usageError("--handlers goes with --celery or --executor", ctx.name);
    }
    return null;
  }
  if (celery && executor) throw usageError("choose --celery or --executor, not both", ctx.name);
  const only = ctx.flags.string("handlers")?.split(",").map((h) => h.trim()).filter(Boolean) ??
    null;
  if (celery) {
    if (!ctx.io.connect) throw new CliError("this runtime cannot open TCP connections");
    try {
      const bridge = await celeryBridge({
        broker: celery,
        backend: ctx.flags.string("celery-backend"),
        queue: ctx.flags.string("celery-queue"),
        passInput: ctx.flags.bool("celery-pass-input"),
        connect: ctx.io.connect,
        origin: `edgeflow@${ctx.flags.string("name") ?? "worker"}`,
      });
      return {
        handler: bridge.handler,
        only,
        describe: `celery at ${celery}`,
        close: bridge.close,
      } satisfies Backend;
    } catch (err) {
      throw new CliError(`cannot reach the Celery broker ${celery}`, [(err as Error).message]);
    }
  }
  if (!ctx.io.spawn) throw new CliError("this runtime cannot start processes");
  const runJob = jobReader({ url, key, fetch: ctx.io.fetch });
  if (executor === "docker") {
    const docker = (ctx.flags.string("docker-bin") ?? "docker").trim().split(/\s+/);
    const handler = dockerExecutor({ docker, spawn: ctx.io.spawn, runJob });
    return { handler, only, describe: `containers (${docker.join(" ")})`, close: () => {} };
  }
  if (executor === "process") {
    const python = (ctx.flags.string("python") ?? "python3").trim().split(/\s+/);
    const handler = processExecutor({
      runner: [...python, RUNNER.pathname],
      spawn: ctx.io.spawn,
      runJob,
      cwd: ctx.io.cwd,
    });
    return { handler, only, describe: "processes", close: () => {} } satisfies Backend;
  }
  throw new CliError(
    `unknown executor ${executor}`,
    ["use --executor docker or process"],
    EXIT.usage,
  );
}
