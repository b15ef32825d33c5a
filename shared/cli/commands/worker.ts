/**
 * `worker start --pool P <module>`: run the handlers a module exports with
 * the worker SDK until Ctrl-C / SIGTERM, then stop gracefully (running
 * tasks finish and report; the last heartbeat releases the worker).
 *
 * Handler names come from the exports: `export function extract` is
 * `extract`; an exported object nests with dots, so
 * `export const etl = { extract, split }` gives `etl.extract` and
 * `etl.split` — the `module.function` names flows usually use; a default
 * export that is an object is a map of names (`{"etl.extract": fn}`).
 */
import { createWorker, type Handler, type Logger } from "../../worker/mod.ts";
import type { QueuedHandler } from "../../app/heartbeat_routes.ts";
import type { ApiClient } from "../client.ts";
import type { Command, CommandContext } from "../command.ts";
import { seg } from "../command.ts";
import { CliError, EXIT, usageError } from "../io.ts";
import { type Backend, BACKEND_FLAGS, backendOf } from "../worker_backends.ts";

/** Handler name → function, from a module's exports. */
export function handlersOf(exports: Record<string, unknown>): Record<string, Handler> {
  const out: Record<string, Handler> = {};
  const walk = (prefix: string, value: unknown, depth: number) => {
    // A default-exported function has no name to be claimed by: skipped.
    if (typeof value === "function") {
      if (prefix) out[prefix] = value as Handler;
    } else if (value && typeof value === "object" && !Array.isArray(value) && depth < 4) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v, depth + 1);
    }
  };
  for (const [name, value] of Object.entries(exports)) {
    walk(name === "default" ? "" : name, value, 0);
  }
  return out;
}

/** SDK log lines as short text on stderr; debug is dropped. */
function textLogger(ctx: CommandContext): Logger {
  return (level, message, fields) => {
    if (level === "debug") return;
    const extra = Object.entries(fields ?? {}).map(([k, v]) =>
      `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
    );
    ctx.note([`${level}:`, message, ...extra].join(" "));
  };
}

/**
 * Warns about queued work in `pool` for handlers this worker does not serve
 * and no online worker does: such runs would wait forever without a word.
 * Best effort: a server without the route (older) or an error says nothing.
 */
async function warnUnserved(
  ctx: CommandContext,
  api: ApiClient,
  pool: string,
  names: string[],
): Promise<void> {
  const res = await api
    .request<{ handlers?: QueuedHandler[] }>("GET", `/heartbeat/pools/${seg(pool)}/queued`)
    .catch(() => null);
  if (res?.status !== 200 || !Array.isArray(res.body?.handlers)) return;
  const mine = new Set(names);
  for (const h of res.body.handlers) {
    if (mine.has(h.handler) || h.served) continue;
    ctx.note(
      `warning: pool ${pool} has ${h.queued} queued task${h.queued === 1 ? "" : "s"} for ` +
        `handler ${h.handler}, which this worker does not serve and no online worker does ` +
        `(export it from the module, or start a worker that has it)`,
    );
  }
}

/** `edgeflow worker start --pool P <module>` */
export const workerStartCommand: Command = {
  path: ["worker", "start"],
  args: "[<module>]",
  arity: [0, 1],
  summary: "run task handlers: a JS/TS module's, Celery's, or containers/processes",
  description: `Needs a key with scope "worker". Handler names come from the exports:
  export async function extract(ctx) {…}        → extract
  export const etl = { extract, split }          → etl.extract, etl.split
  export default { "etl.report": report }        → etl.report
A handler gets ctx.input.run (the parameters), ctx.input.deps (outputs of
the step's dependencies), ctx.input.args, ctx.signal and ctx.log; what it
returns is the step's output. Ctrl-C stops claiming and lets running tasks
finish (up to --grace seconds).

Without a module, --celery or --executor runs every handler of the pool
(or those --handlers lists); with one, the module's handlers run here and
the rest go to Celery or the executor:
  --celery redis://127.0.0.1:6379/0   each task is sent to Celery as the task
                                      its handler names, step args as kwargs
  --executor docker                   each task runs in a container of the
                                      deployment's job_variables.image
  --executor process                  each task runs as a local Python process

Examples:
  EDGEFLOW_KEY=ef_… edgeflow worker start --pool default --capacity 4 handlers.ts
  edgeflow worker start --pool default-process-pool --celery redis://127.0.0.1:6379/0
  edgeflow worker start --pool docker-pool --executor docker --docker-bin podman`,
  flags: {
    pool: { kind: "string", arg: "POOL", help: "work pool to take tasks from (default: default)" },
    capacity: { kind: "string", arg: "N", help: "most tasks at once (default 1)" },
    name: { kind: "string", arg: "NAME", help: "worker name in `workers ls` (default: random)" },
    grace: { kind: "string", arg: "SECONDS", help: "on stop, wait this long for tasks (30)" },
    ...BACKEND_FLAGS,
  },
  async run(ctx) {
    const [path] = ctx.positionals;
    const api = ctx.api();
    const key = ctx.flags.string("key") || ctx.io.env.EDGEFLOW_KEY;
    if (!key) {
      throw new CliError(
        "a worker needs an API key: pass --key or set EDGEFLOW_KEY",
        [],
        EXIT.usage,
      );
    }
    let handlers: Record<string, Handler> = {};
    if (path) {
      let exports: Record<string, unknown>;
      try {
        exports = await ctx.io.importModule(path);
      } catch (err) {
        throw new CliError(`cannot load module ${path}`, [(err as Error).message.split("\n")[0]]);
      }
      handlers = handlersOf(exports);
      if (!Object.keys(handlers).length) throw new CliError(`${path} exports no functions`);
    }
    const backend: Backend | null = await backendOf(ctx, api.base, key);
    if (!path && !backend) {
      throw usageError("name a module of handlers, or pass --celery or --executor", ctx.name);
    }
    let fallback: Handler | undefined;
    if (backend?.only) { for (const name of backend.only) handlers[name] ??= backend.handler; }
    else if (backend) fallback = backend.handler;
    const pool = ctx.flags.string("pool") ?? "default";
    const grace = ctx.flags.int("grace", ctx.name, 0) ?? 30;
    let worker;
    try {
      worker = createWorker({
        url: api.base,
        key,
        pool,
        handlers,
        fallback,
        name: ctx.flags.string("name"),
        capacity: ctx.flags.int("capacity", ctx.name),
        fetch: ctx.io.fetch,
        logger: textLogger(ctx),
      });
    } catch (err) {
      backend?.close();
      throw new CliError((err as Error).message);
    }
    const started = new Map<string, number>();
    worker.on("task:start", ({ task }) => started.set(task.task, ctx.io.now()));
    const took = (id: string) => `${ctx.io.now() - (started.get(id) ?? ctx.io.now())}ms`;
    worker.on("task:done", ({ task }) => {
      ctx.print(
        `done    ${task.handler}  run ${task.run_id} step ${task.step}  ${took(task.task)}`,
      );
      started.delete(task.task);
    });
    worker.on("task:failed", ({ task, error }) => {
      ctx.print(`failed  ${task.handler}  run ${task.run_id} step ${task.step}: ${error.message}`);
      started.delete(task.task);
    });
    // A key refused mid-run (revoked; a dev server restarted with another key): the SDK stopped.
    let refused: Error | undefined;
    const fatal = new Promise<void>((resolve) =>
      worker.on("fatal", ({ error }) => {
        refused = error;
        resolve();
      })
    );
    // Ctrl-C also ends a start that is still retrying an unreachable server.
    const stopping = new Promise<void>((resolve) => {
      const stop = () => resolve(worker.stop({ timeoutMs: grace * 1000 }));
      if (ctx.io.shutdown.aborted) stop();
      else ctx.io.shutdown.addEventListener("abort", stop, { once: true });
    });
    try {
      await worker.start();
    } catch (err) {
      backend?.close();
      if (ctx.io.shutdown.aborted) return 130;
      throw new CliError(`the worker could not start: ${(err as Error).message}`);
    }
    if (!fallback) await warnUnserved(ctx, api, pool, Object.keys(handlers));
    const serves = fallback
      ? `every handler${
        path ? ` (${path}'s here, the rest by ${backend!.describe})` : ` by ${backend!.describe}`
      }`
      : Object.keys(handlers).sort().join(", ");
    ctx.print(
      `worker ${worker.name} polling pool ${pool} at ${api.base} for ${serves} (Ctrl-C stops)`,
    );
    await Promise.race([
      fatal,
      new Promise<void>((resolve) => {
        if (ctx.io.shutdown.aborted) resolve();
        else ctx.io.shutdown.addEventListener("abort", () => resolve(), { once: true });
      }),
    ]);
    if (refused) {
      await worker.stop({ timeoutMs: 0 });
      backend?.close();
      throw new CliError(refused.message, [
        "check --key / EDGEFLOW_KEY (deno task dev keeps its key in .edgeflow/dev_admin_key)",
      ]);
    }
    ctx.note(`stopping worker ${worker.name}: waiting up to ${grace} s for running tasks`);
    await stopping;
    backend?.close();
    return EXIT.ok;
  },
};
