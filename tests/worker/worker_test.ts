/**
 * The worker SDK against the fake control plane: claiming, concurrency,
 * outputs, the pace of a chain of steps, and leases kept by heartbeats.
 */
import assert from "node:assert/strict";
import type { TaskContext } from "../../shared/worker/mod.ts";
import { startFakeServer } from "./fake_server.ts";
import { delay, testWorker, waitFor } from "./helpers.ts";

Deno.test("a worker completes tasks with their outputs, undefined becoming null", async () => {
  await using server = startFakeServer();
  const seen: TaskContext[] = [];
  const { worker } = testWorker(server, {
    handlers: {
      "etl.extract": (ctx) => {
        seen.push(ctx);
        return { rows: (ctx.input.args as { n: number }).n * 2 };
      },
      "etl.noop": () => undefined,
    },
    capacity: 2,
  });
  const events: string[] = [];
  worker.on("task:start", ({ task }) => events.push(`start ${task.handler}`));
  worker.on("task:done", ({ task, report }) => events.push(`done ${task.handler} ${report}`));
  const a = server.enqueue("etl.extract", { args: { n: 21 } });
  const b = server.enqueue("etl.noop");
  try {
    await worker.start();
    assert.equal(worker.state, "running");
    await waitFor(() => server.tasks.get(b)!.status === "COMPLETED", "both tasks");
    await waitFor(() => server.tasks.get(a)!.status === "COMPLETED", "both tasks");
  } finally {
    await worker.stop();
  }
  assert.deepEqual(server.tasks.get(a)!.output, { rows: 42 });
  assert.equal(server.tasks.get(b)!.output, null);
  // Sent as an explicit null, not left out.
  assert.ok("output" in server.results("complete", b)[0].body);
  const ctx = seen[0];
  assert.equal(ctx.taskId, a);
  assert.equal(ctx.step, "etl.extract");
  assert.equal(ctx.attempt, 1);
  assert.equal(ctx.maxAttempts, 3);
  assert.equal(ctx.worker, "w-test");
  assert.deepEqual(ctx.input, { run: {}, deps: {}, args: { n: 21 } });
  assert.equal(ctx.signal.aborted, false);
  assert.deepEqual(events.sort(), [
    "done etl.extract accepted",
    "done etl.noop accepted",
    "start etl.extract",
    "start etl.noop",
  ]);
  // The first heartbeat named the handlers and asked for both slots.
  const first = server.requests[0].body;
  assert.deepEqual(first.handlers, ["etl.extract", "etl.noop"]);
  assert.equal(first.capacity, 2);
  assert.equal(first.worker, "w-test");
  assert.equal(first.pool, "default");
});

Deno.test("concurrency never exceeds capacity, and a backlog drains without idle waits", async () => {
  await using server = startFakeServer({ heartbeatSeconds: 30 });
  let now = 0, most = 0;
  const { worker } = testWorker(server, {
    capacity: 3,
    handlers: {
      work: async (ctx) => {
        most = Math.max(most, ++now);
        await delay(15);
        now--;
        return ctx.taskId;
      },
    },
  });
  const ids = Array.from({ length: 12 }, () => server.enqueue("work"));
  try {
    await worker.start();
    // 12 tasks in batches of at most 3: far less than one 30 s interval.
    await waitFor(() => ids.every((id) => server.tasks.get(id)!.status === "COMPLETED"), "all");
  } finally {
    await worker.stop();
  }
  assert.equal(most, 3);
  for (const id of ids) assert.equal(server.tasks.get(id)!.output, id);
  for (const beat of server.heartbeats) {
    assert.ok(beat.capacity + beat.running.length <= 3, JSON.stringify(beat));
  }
});

Deno.test("a chain of steps flows from one to the next without waiting an interval", async () => {
  const next: Record<string, string> = { a: "b", b: "c" };
  await using server = startFakeServer({
    heartbeatSeconds: 30,
    // Completing a step enqueues its dependent, as the engine does.
    onComplete: (t) => {
      if (next[t.step]) server.enqueue(next[t.step], { runId: t.runId });
    },
  });
  const order: string[] = [];
  const handler = (ctx: TaskContext) => void order.push(ctx.step);
  const { worker } = testWorker(server, { handlers: { a: handler, b: handler, c: handler } });
  server.enqueue("a");
  try {
    await worker.start();
    await waitFor(() => order.length === 3 && worker.running === 0, "the chain", 3_000);
  } finally {
    await worker.stop();
  }
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.ok([...server.tasks.values()].every((t) => t.status === "COMPLETED"));
});

Deno.test("heartbeats continue while a long handler runs and keep its lease", async () => {
  // A 400 ms lease and a 30 s interval: only the lease rule keeps the task.
  await using server = startFakeServer({ leaseMs: 400, heartbeatSeconds: 30 });
  const { worker } = testWorker(server, {
    handlers: { slow: () => delay(1_000).then(() => "done") },
  });
  const id = server.enqueue("slow");
  try {
    await worker.start();
    await waitFor(() => server.tasks.get(id)!.status === "COMPLETED", "the slow task");
  } finally {
    await worker.stop();
  }
  const kept = server.heartbeats.filter((b) => b.running.some((r) => r.task === id));
  assert.ok(kept.length >= 3, `only ${kept.length} heartbeats carried the lease`);
  assert.ok(server.stats.extended >= 1);
  assert.equal(server.results("complete", id).length, 1);
  assert.equal(server.results("complete", id)[0].status, 200);
  assert.equal(server.tasks.get(id)!.attempt, 1);
});
