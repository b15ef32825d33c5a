/**
 * The conformance adapter of the TypeScript SDK (shared/worker): the suite's
 * handlers on `createWorker`, one JSON event line per SDK event on stdout.
 * SIGTERM/SIGINT → `worker.stop()` (drain) → `{"event":"stopped"}`, exit 0.
 * The handlers and events are the same in every adapter (README.md here).
 *
 *   deno run -A tests/conformance/adapters/ts_worker.ts --url U --key K --pool P --worker W
 */
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { createWorker, type TaskContext, WorkerStartError } from "../../../shared/worker/mod.ts";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    key: { type: "string" },
    pool: { type: "string", default: "default" },
    worker: { type: "string", default: `ts-${crypto.randomUUID().slice(0, 6)}` },
    capacity: { type: "string", default: "1" },
  },
});
const say = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, worker: o.worker, ...fields }));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
// deno-lint-ignore no-explicit-any
const args = (ctx: TaskContext) => (ctx.input.args ?? {}) as any;

const worker = createWorker({
  url: o.url!,
  key: o.key!,
  pool: o.pool,
  name: o.worker,
  capacity: Number(o.capacity),
  logger: () => {},
  handlers: {
    echo: (ctx) => ({
      worker: o.worker,
      attempt: ctx.attempt,
      args: ctx.input.args,
      deps: ctx.input.deps,
      run: ctx.input.run,
    }),
    sleep: async (ctx) => {
      await pause(args(ctx).seconds * 1000);
      return { slept: args(ctx).seconds, attempt: ctx.attempt };
    },
    block: async (ctx) => {
      if (ctx.attempt > (args(ctx).block_attempts ?? 1)) return { attempt: ctx.attempt };
      const deadline = Date.now() + 60_000;
      while (!ctx.signal.aborted && Date.now() < deadline) await pause(20);
      return "unblocked";
    },
    gate: async (ctx) => {
      const deadline = Date.now() + 60_000;
      while (!existsSync(args(ctx).file) && Date.now() < deadline) await pause(20);
      return { worker: o.worker, attempt: ctx.attempt };
    },
    fail: (ctx) => {
      if (ctx.attempt < args(ctx).ok_on) throw new Error(`attempt ${ctx.attempt} failed`);
      return { attempt: ctx.attempt };
    },
    log: (ctx) => {
      for (let i = 0; i < args(ctx).lines; i++) ctx.log.info(`line ${i}`, { i });
      ctx.log.warn("done logging");
      return { logged: args(ctx).lines };
    },
  },
});
const ids = (t: { task: string; attempt: number }) => ({ task: t.task, attempt: t.attempt });
worker.on("task:start", (e) => say("task_start", { ...ids(e.task), handler: e.task.handler }));
worker.on("task:done", (e) => say("done", { ...ids(e.task), report: e.report }));
worker.on("task:failed", (e) => say("failed", { ...ids(e.task), report: e.report }));
worker.on("task:aborted", (e) => say("aborted", { ...ids(e.task), reason: e.reason }));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    await worker.stop();
    say("stopped");
    Deno.exit(0);
  });
}
try {
  await worker.start();
  say("started");
} catch (err) {
  say("start_failed", { status: err instanceof WorkerStartError ? err.status : null });
  Deno.exit(2);
}
