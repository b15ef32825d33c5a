/**
 * Tasks whose results are no longer wanted (cancelled run, lost lease,
 * shutdown) and the drain of `stop()`.
 */
import assert from "node:assert/strict";
import { TaskAbortedError } from "../../shared/worker/mod.ts";
import { startFakeServer } from "./fake_server.ts";
import { abortableDelay, gate, testWorker, waitFor } from "./helpers.ts";

/** A handler that runs until its signal aborts, recording the reason. */
function untilAborted(reasons: unknown[]) {
  return async (ctx: { signal: AbortSignal }) => {
    try {
      await abortableDelay(10_000, ctx.signal);
    } finally {
      reasons.push(ctx.signal.reason);
    }
  };
}

for (const reason of ["cancelled", "lost"] as const) {
  Deno.test(`a ${reason} task has its signal aborted and its result is not reported`, async () => {
    await using server = startFakeServer({ heartbeatSeconds: 0.05 });
    const reasons: unknown[] = [];
    const { worker } = testWorker(server, { handlers: { long: untilAborted(reasons) } });
    const aborted: string[] = [];
    let beatsAtAbort = 0;
    worker.on("task:aborted", (e) => {
      aborted.push(e.reason);
      beatsAtAbort = server.heartbeats.length;
    });
    const runId = crypto.randomUUID();
    const id = server.enqueue("long", { runId });
    try {
      await worker.start();
      await waitFor(() => worker.running === 1, "the claim");
      if (reason === "cancelled") server.cancelRun(runId);
      else server.stealLease(id);
      await waitFor(() => reasons.length === 1 && worker.running === 0, "the abort");
    } finally {
      await worker.stop();
    }
    const [why] = reasons;
    assert.ok(why instanceof TaskAbortedError);
    assert.equal(why.reason, reason);
    assert.deepEqual(aborted, [reason]);
    assert.equal(server.results("complete").length + server.results("fail").length, 0);
    // Once dropped, the lease is not sent again.
    const later = server.heartbeats.slice(beatsAtAbort);
    assert.ok(later.length >= 1);
    assert.ok(later.every((b) => b.running.length === 0));
  });
}

Deno.test("stop() drains running handlers, then sends a final heartbeat with capacity 0", async () => {
  await using server = startFakeServer({ heartbeatSeconds: 0.05 });
  const release = gate();
  const { worker } = testWorker(server, {
    handlers: { step: () => release.promise.then(() => "drained") },
  });
  const first = server.enqueue("step"), second = server.enqueue("step");
  await worker.start();
  await waitFor(() => worker.running === 1, "the claim");
  const stopped = worker.stop();
  assert.equal(worker.state, "stopping");
  const beatsAtStop = server.heartbeats.length;
  // While draining, heartbeats keep the lease but ask for nothing.
  await waitFor(() => server.heartbeats.length >= beatsAtStop + 2, "draining heartbeats");
  release.open();
  await stopped;
  assert.equal(worker.state, "stopped");
  assert.equal(worker.running, 0);
  assert.equal(server.tasks.get(first)!.status, "COMPLETED");
  assert.equal(server.tasks.get(first)!.output, "drained");
  assert.equal(server.tasks.get(second)!.status, "QUEUED");
  const after = server.heartbeats.slice(beatsAtStop);
  assert.ok(after.every((b) => b.capacity === 0));
  assert.ok(after.slice(0, -1).every((b) => b.running.some((r) => r.task === first)));
  // The last request of all is the final heartbeat, after the completion.
  const last = server.requests.at(-1)!;
  assert.equal(last.path, "/heartbeat");
  assert.equal(last.body.capacity, 0);
  assert.deepEqual(last.body.running, []);
  assert.ok(
    server.requests.findIndex((r) => r.path.endsWith("/complete")) < server.requests.length - 1,
  );
  // Idempotent.
  await worker.stop();
});

Deno.test("stop() with a timeout aborts handlers that outlive it and reports nothing", async () => {
  await using server = startFakeServer();
  const reasons: unknown[] = [];
  const { worker } = testWorker(server, { handlers: { long: untilAborted(reasons) } });
  const id = server.enqueue("long");
  await worker.start();
  await waitFor(() => worker.running === 1, "the claim");
  await worker.stop({ timeoutMs: 30 });
  await waitFor(() => reasons.length === 1, "the handler to see the abort");
  assert.equal((reasons[0] as TaskAbortedError).reason, "shutdown");
  assert.equal(server.results("complete").length + server.results("fail").length, 0);
  assert.equal(server.tasks.get(id)!.status, "RUNNING"); // the lease expiry re-queues it
  const last = server.requests.at(-1)!;
  assert.equal(last.body.capacity, 0);
  assert.deepEqual(last.body.running, []);
});
