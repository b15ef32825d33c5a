/**
 * Conformance, stopping (docs/worker-protocol.md, "Stopping"): SIGTERM
 * drains — no new claims, running tasks finish and are reported under
 * their kept leases, a last heartbeat with capacity 0 — and a long poll in
 * flight ends at once, so the server leases the gone worker nothing more.
 */
import assert from "node:assert/strict";
import { conformance, heartbeatsOf, until } from "./harness.ts";

conformance("SIGTERM drains: the running task finishes, nothing new is claimed", async (c) => {
  const name = await c.flow([{ slug: "work", handler: "sleep", timeout: 8, args: { seconds: 4 } }]);
  const w = await c.start(name);
  const first = await c.trigger(name);
  const started = await w.event("the task to start", (e) => e.event === "task_start");
  const second = await c.trigger(name);
  w.signal("SIGTERM");
  const status = await w.status;
  assert.equal(status.code, 0, w.stderr);
  assert.deepEqual(
    w.events.filter((e) => e.event !== "started").map((e) => [e.event, e.task ?? null]),
    [["task_start", started.task], ["done", started.task], ["stopped", null]],
  );
  assert.equal(w.events.find((e) => e.event === "done")!.report, "accepted");
  const run = await c.waitRun(first);
  assert.deepEqual([run.status, run.steps[0].attempts], ["COMPLETED", 1]);
  // The last word: capacity 0, holding nothing.
  const beats = heartbeatsOf(c.served, started.worker);
  assert.deepEqual(
    [beats.at(-1)!.body.capacity, beats.at(-1)!.body.running],
    [0, []],
  );
  // The second run was never claimed by the draining worker: it waits, on attempt 1.
  const thief = await until("another worker to claim the second run", async () => {
    const res = await c.served.call("POST", "/heartbeat", {
      worker: "next",
      pool: name,
      capacity: 1,
    });
    return res.body.tasks?.[0];
  });
  assert.deepEqual([thief.run_id, thief.attempt], [second, 1]);
});

conformance(
  "SIGTERM ends a long poll at once; the gone worker is leased nothing",
  async (c) => {
    const name = await c.flow([{ slug: "one", handler: "echo" }]);
    const w = await c.start(name);
    const worker = w.events[0].worker;
    // Idle, with heartbeat_seconds 20: the worker waits in long polls of 20 s.
    const poll = await until(
      "a long poll in flight",
      () =>
        heartbeatsOf(c.served, worker).find((x) =>
          x.status === null && x.body.wait_seconds >= 20 && x.body.capacity > 0
        ),
    );
    w.signal("SIGTERM");
    // Well inside the poll's own wait (20 s, just begun): ending it is the SDK's doing.
    await until("the worker to exit", () => w.exited ?? undefined, { timeoutMs: 15_000 });
    assert.equal(w.exited!.code, 0, w.stderr);
    assert.deepEqual(w.events.map((e) => e.event), ["started", "stopped"]);
    const beats = heartbeatsOf(c.served, worker);
    assert.deepEqual([beats.at(-1)!.body.capacity, beats.at(-1)!.body.running], [0, []]);
    // The server saw the client leave: the poll ended, inside its own 20 s wait.
    // (The Python SDK's head and body in two writes: 4 of 10 polls here ran
    // the full 20 s, Deno's server never noticed; one write: 0 of 20.)
    const ended = await until("the server to end the long poll", () => poll.endedAt, {
      timeoutMs: 30_000,
    });
    assert.ok(ended - poll.at < 10_000, `the poll ran ${ended - poll.at} ms of its 20 s`);
    // A run right after goes to a live worker on attempt 1, not to the gone poll.
    const runId = await c.trigger(name);
    const got = await until("another worker to claim the run", async () => {
      const res = await c.served.call("POST", "/heartbeat", {
        worker: "next",
        pool: name,
        capacity: 1,
      });
      return res.body.tasks?.[0];
    });
    assert.deepEqual([got.run_id, got.attempt], [runId, 1]);
    assert.ok(poll.response === undefined || poll.response.tasks.length === 0);
  },
  { heartbeatSeconds: 20, leaseSeconds: 60 },
);
