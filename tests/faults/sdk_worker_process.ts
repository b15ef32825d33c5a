/**
 * An SDK worker (shared/worker) in a process of its own, for the fault
 * tests: it long-polls like any production worker, stops gracefully on
 * SIGTERM (`worker.stop()`) and can be SIGKILLed. One JSON line on stdout
 * per event: {"event":"started"|"completed"|"stopped", …}.
 *
 *   deno run -A tests/faults/sdk_worker_process.ts --url URL --key KEY --worker NAME
 *
 * Its handlers: `echo` returns the worker's name and the attempt; `approve`
 * waits for the event `doc.approved` of its run's `doc` (ctx.waitForEvent). The
 * process exits by itself after --max-seconds (default 120).
 */
import { parseArgs } from "node:util";
import { createWorker, silentLogger } from "../../shared/worker/mod.ts";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    key: { type: "string" },
    worker: { type: "string", default: `sdk-${crypto.randomUUID().slice(0, 6)}` },
    "max-seconds": { type: "string", default: "120" },
  },
});
if (!o.url || !o.key) throw new Error("--url and --key are required");
setTimeout(() => Deno.exit(3), Number(o["max-seconds"]) * 1000);
const say = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, worker: o.worker, ...fields }));

const worker = createWorker({
  url: o.url,
  key: o.key,
  pool: "default",
  name: o.worker,
  capacity: 1,
  logger: silentLogger,
  handlers: {
    echo: (ctx) => ({ worker: o.worker, attempt: ctx.attempt }),
    // A durable wait inside a handler (issue 16): suspended until `doc.approved` for its doc.
    approve: async (ctx) => {
      const ev = await ctx.waitForEvent("doc.approved", {
        key: String(ctx.input.run.doc),
        timeout: 86_400,
      });
      return { worker: o.worker, attempt: ctx.attempt, event: ev };
    },
  },
});
worker.on("task:suspended", (e) => say("suspended", { task: e.task.task }));
worker.on("task:done", (e) => say("completed", { task: e.task.task, attempt: e.task.attempt }));
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop();
  say("stopped");
  Deno.exit(0);
});
await worker.start();
say("started");
