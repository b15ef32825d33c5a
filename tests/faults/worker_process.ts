/**
 * A worker process for the fault tests, speaking the HTTP worker protocol
 * like a worker in any language would, so that the test can SIGKILL it.
 * One JSON line on stdout per event: {"event":"claimed"|"completed"|"refused", …}.
 *
 *   deno run -A tests/faults/worker_process.ts --url http://127.0.0.1:PORT --key KEY \
 *     --worker w1 [--pool default] [--capacity 1] [--work-ms 0] [--hang] [--beat-ms 300]
 *
 * --hang: claim tasks and keep their leases alive by heartbeating, but never
 * finish them (a task "mid-work" when the test kills the process).
 * Network errors and 5xx (a restarting database) are retried; a refused
 * result (409) is dropped, as a real worker must. The process exits by itself
 * after --max-seconds (default 120), so a test that dies cannot leak it.
 */
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    key: { type: "string" },
    worker: { type: "string", default: `w-${crypto.randomUUID().slice(0, 6)}` },
    pool: { type: "string", default: "default" },
    capacity: { type: "string", default: "1" },
    "work-ms": { type: "string", default: "0" },
    "beat-ms": { type: "string", default: "300" },
    "max-seconds": { type: "string", default: "120" },
    hang: { type: "boolean", default: false },
  },
});
if (!o.url || !o.key) throw new Error("--url and --key are required");
const capacity = Number(o.capacity);
const workMs = Number(o["work-ms"]);
const beatMs = Number(o["beat-ms"]);
setTimeout(() => Deno.exit(3), Number(o["max-seconds"]) * 1000);

interface Task {
  task: string;
  lease: string;
  attempt: number;
  run_id: string;
}
const running = new Map<string, Task>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (event: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ event, worker: o.worker, ...fields }));

// deno-lint-ignore no-explicit-any
async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${o.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${o.key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  } catch {
    return { status: 0, body: null }; // unreachable: same as a 503
  }
}

/** Finish one task: complete it, retrying while the server cannot answer. */
async function work(t: Task): Promise<void> {
  if (workMs > 0) await sleep(workMs);
  for (;;) {
    if (!running.has(t.task)) return; // lost or cancelled meanwhile
    const res = await post(`/heartbeat/tasks/${t.task}/complete`, {
      lease: t.lease,
      output: { worker: o.worker, attempt: t.attempt },
    });
    if (res.status === 200) {
      say("completed", { task: t.task, run_id: t.run_id, attempt: t.attempt });
      break;
    }
    if (res.status >= 400 && res.status < 500) {
      say("refused", { task: t.task, status: res.status, code: res.body?.code });
      break;
    }
    await sleep(200);
  }
  running.delete(t.task);
}

for (;;) {
  const res = await post("/heartbeat", {
    worker: o.worker,
    pool: o.pool,
    capacity: Math.max(0, capacity - running.size),
    running: [...running.values()].map((t) => ({ task: t.task, lease: t.lease })),
  });
  if (res.status === 200) {
    for (const id of [...res.body.lost, ...res.body.cancel]) running.delete(id);
    for (const t of res.body.tasks as Task[]) {
      running.set(t.task, t);
      say("claimed", { task: t.task, lease: t.lease, run_id: t.run_id, attempt: t.attempt });
      if (!o.hang) work(t);
    }
    // Ask again at once while there may be more work and room for it.
    if (res.body.tasks.length > 0 && running.size < capacity) continue;
  }
  await sleep(beatMs);
}
