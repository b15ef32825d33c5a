/**
 * Conformance, when the result is no longer wanted (docs/worker-protocol.md,
 * "cancel and lost"): a cancelled run aborts its handler; a lease lost while
 * the worker could not heartbeat aborts the handler once the worker hears of
 * it; a result sent under a stale lease is refused with 409 and not retried.
 */
import assert from "node:assert/strict";
import { type CaseContext, conformance, resultsOf, until } from "./harness.ts";

/** The task row of a one-step run (read-only: the test watches the sweep). */
async function taskOf(c: CaseContext, runId: string) {
  const [row] = await c.db.sql<{ id: string; status: string; lease: string | null }>`
    select id::text, status, lease::text from edgeflow.tasks where run_id = ${runId}::uuid`;
  return row;
}

conformance("a cancelled run aborts its running handler", async (c) => {
  // timeout 2: the dropped lease lapses soon, and the run settles CANCELLED.
  const name = await c.flow([{ slug: "long", handler: "block", timeout: 2 }]);
  const w = await c.start(name);
  const runId = await c.trigger(name);
  const started = await w.event("the task to start", (e) => e.event === "task_start");
  const cancel = await c.served.call("POST", `/trigger/runs/${runId}/cancel`);
  assert.equal(cancel.status, 202);
  const aborted = await w.event("the handler to be aborted", (e) => e.event === "aborted");
  assert.deepEqual([aborted.task, aborted.reason], [started.task, "cancelled"]);
  const run = await c.waitRun(runId);
  assert.equal(run.status, "CANCELLED");
  // The aborted handler's result was not sent.
  assert.deepEqual(resultsOf(c.served, started.task!), []);
});

conformance("a lease lost while heartbeats failed aborts the handler", async (c) => {
  const name = await c.flow([
    { slug: "held", handler: "block", timeout: 2, max_attempts: 3, base_delay: 0 },
  ]);
  const w = await c.start(name);
  const runId = await c.trigger(name);
  const started = await w.event("attempt 1 to start", (e) => e.event === "task_start");
  // The worker cannot reach the server (its heartbeats only) …
  const lift = c.served.fault({ path: /^\/heartbeat$/, when: (b) => b?.worker === started.worker });
  // … until its lease has expired and the sweep has taken the task back.
  const first = await taskOf(c, runId);
  await until("the sweep to take the task back", async () => {
    const t = await taskOf(c, runId);
    return t.lease !== first.lease && t;
  });
  lift();
  console.log(
    "FAULTED",
    c.served.exchanges.filter((x) => x.path === "/heartbeat" && x.status === 503).length,
  );
  const aborted = await w.event("the handler to be aborted", (e) => e.event === "aborted");
  assert.deepEqual([aborted.attempt, aborted.reason], [1, "lost"]);
  // The task runs again, here or elsewhere, and the run completes on attempt 2.
  const run = await c.waitRun(runId);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output.held, { attempt: 2 });
  const sent = resultsOf(c.served, started.task!).filter((x) => x.body.lease === first.lease);
  assert.deepEqual(sent, [], "a result was sent under the lost lease");
});

conformance("a result under a stale lease is refused with 409, once", async (c) => {
  const gate = await Deno.makeTempFile({ prefix: "conformance-gate-" });
  await Deno.remove(gate);
  const name = await c.flow([{ slug: "gated", handler: "gate", timeout: 2, args: { file: gate } }]);
  const w = await c.start(name);
  const runId = await c.trigger(name);
  const started = await w.event("attempt 1 to start", (e) => e.event === "task_start");
  const first = await taskOf(c, runId);
  // The worker's heartbeats fail, so it never hears that the lease is gone.
  const lift = c.served.fault({ path: /^\/heartbeat$/, when: (b) => b?.worker === started.worker });
  try {
    // Another worker takes the task once the sweep has re-queued it.
    const thief = await until("another worker to claim attempt 2", async () => {
      const res = await c.served.call("POST", "/heartbeat", {
        worker: "thief",
        pool: name,
        handlers: ["gate"],
        capacity: 1,
      });
      return res.body.tasks?.[0];
    });
    assert.equal(thief.attempt, 2);
    await Deno.writeTextFile(gate, "open"); // attempt 1's handler returns now
    const done = await w.event("attempt 1's report", (e) => e.event === "done");
    assert.deepEqual([done.attempt, done.report], [1, "stale"]);
    const sent = resultsOf(c.served, started.task!).filter((x) => x.body.lease === first.lease);
    assert.deepEqual(sent.map((x) => x.status), [409], "the stale result was retried");
    // The current lease is the one that counts.
    const ok = await c.served.call("POST", `/heartbeat/tasks/${thief.task}/complete`, {
      lease: thief.lease,
      output: { by: "thief" },
    });
    assert.equal(ok.status, 200);
    const run = await c.waitRun(runId);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output.gated, { by: "thief" });
  } finally {
    lift();
    await Deno.remove(gate).catch(() => {});
  }
});
