/**
 * An SDK worker (shared/worker) in a process of its own, for the fault
 * tests: it long-polls like any production worker, stops gracefully on
 * SIGTERM (`worker.stop()`) and can be SIGKILLed. One JSON line on stdout
 * per event: {"event":"started"|"completed"|"stopped", …}.
 *
 *   deno run -A tests/faults/sdk_worker_process.ts --url URL --key KEY --worker NAME
 *
 * Its one handler, `echo`, returns the worker's name and the attempt. The
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
  },
});
worker.on("task:done", (e) => say("completed", { task: e.task.task, attempt: e.task.attempt }));
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop();
  say("stopped");
  Deno.exit(0);
});
await worker.start();
say("started");
