/**
 * Conformance, the happy path and its hiccups (docs/worker-protocol.md):
 * claim and complete a chain, keep a lease past its half-life by
 * heartbeats, retry a failed attempt, ride out 503s (Retry-After) on the
 * heartbeat and on the result, and give up on a refused key.
 */
import assert from "node:assert/strict";
import { conformance, heartbeatsOf, resultsOf, until } from "./harness.ts";

conformance("claims a chain's tasks and completes them with their outputs", async (c) => {
  const name = await c.flow([
    { slug: "first", handler: "echo", args: { n: 1 } },
    { slug: "second", handler: "echo", depends_on: ["first"] },
  ]);
  const w = await c.start(name);
  const runId = await c.trigger(name, { day: "2026-12-01" });
  const run = await c.waitRun(runId);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  const first = run.steps.find((s: { slug: string }) => s.slug === "first").output;
  assert.deepEqual(first.args, { n: 1 });
  assert.deepEqual(first.run, { day: "2026-12-01" });
  assert.deepEqual(run.output.second.deps, { first });
  // The run can be COMPLETED before the adapter has printed the report's answer.
  await until("both reports", () => w.events.filter((e) => e.event === "done").length >= 2);
  const done = w.events.filter((e) => e.event === "done");
  assert.deepEqual(done.map((e) => [e.attempt, e.report]), [[1, "accepted"], [1, "accepted"]]);
});

conformance("heartbeats keep a task whose handler outlives its lease", async (c) => {
  // Lease 4 s (the step's timeout), handler 6 s: only heartbeats at the
  // worker's pace (heartbeat_seconds 1, never past half a lease) keep it. A
  // 2 s lease left one late beat of slack, and a loaded CI machine (the
  // suite runs in parallel) once delayed a Python beat past it: attempt 2.
  // With a 3 s lease it happened again (session 13, one CI run in eight).
  const name = await c.flow([
    { slug: "slow", handler: "sleep", timeout: 4, max_attempts: 3, args: { seconds: 6 } },
  ]);
  const w = await c.start(name);
  const run = await c.waitRun(await c.trigger(name));
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.equal(run.steps[0].attempts, 1);
  assert.deepEqual(w.events.filter((e) => e.event === "task_start").map((e) => e.attempt), [1]);
  const task = w.events.find((e) => e.event === "task_start")!.task!;
  const keeping = heartbeatsOf(c.served, w.events[0].worker).filter((x) =>
    x.status === 200 && x.body.running.some((r: { task: string }) => r.task === task)
  );
  assert.ok(keeping.length >= 2, `only ${keeping.length} heartbeats carried the lease`);
  // None called it lost while it ran (a beat crossing the completion may: the task is over).
  const completed = await until(
    "the completion's answer",
    () => resultsOf(c.served, task).find((x) => x.status === 200),
  );
  const during = keeping.filter((x) => x.endedAt! < completed.at);
  assert.ok(during.length >= 2, `only ${during.length} heartbeats kept the lease while it ran`);
  assert.deepEqual(during.filter((x) => x.response.lost.includes(task)), []);
});

conformance("a failed attempt is reported and retried", async (c) => {
  const name = await c.flow([
    { slug: "flaky", handler: "fail", max_attempts: 3, base_delay: 0, args: { ok_on: 2 } },
  ]);
  const w = await c.start(name);
  const run = await c.waitRun(await c.trigger(name));
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output.flaky, { attempt: 2 });
  await w.event("attempt 2's report", (e) => e.event === "done");
  const ends = w.events.filter((e) => e.event === "failed" || e.event === "done");
  assert.deepEqual(ends.map((e) => [e.event, e.attempt, e.report]), [
    ["failed", 1, "accepted"],
    ["done", 2, "accepted"],
  ]);
  const task = ends[0].task!;
  const fail = resultsOf(c.served, task).find((x) => x.path.endsWith("/fail"))!;
  assert.match(fail.body.error.message, /attempt 1 failed/);
  assert.equal(fail.body.error.retryable, true);
});

conformance("503s with Retry-After on heartbeats and results are retried", async (c) => {
  const name = await c.flow([{ slug: "one", handler: "echo" }]);
  // The first two heartbeats (start) and the first two completions fail.
  c.served.fault({ path: /^\/heartbeat$/, times: 2, retryAfter: 1 });
  c.served.fault({ path: /\/complete$/, times: 2, retryAfter: 1 });
  const w = await c.start(name);
  const run = await c.waitRun(await c.trigger(name));
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.equal(run.steps[0].attempts, 1);
  const task = await w.event("the report", (e) => e.event === "done");
  assert.equal(task.report, "accepted");
  const completes = resultsOf(c.served, task.task!).map((x) => x.status);
  const beats = heartbeatsOf(c.served, task.worker).map((x) => x.status);
  const seen = JSON.stringify({ completes, beats, events: w.events, stderr: w.stderr });
  assert.deepEqual(completes, [503, 503, 200], seen);
  assert.deepEqual(beats.slice(0, 3), [503, 503, 200], seen);
});

conformance("an idle worker backs off while heartbeats fail, honouring Retry-After", async (c) => {
  const name = await c.flow([{ slug: "one", handler: "echo" }]);
  const w = await c.start(name);
  const worker = w.events[0].worker;
  const lift = c.served.fault({
    path: /^\/heartbeat$/,
    retryAfter: 1,
    when: (b) => b?.worker === worker,
  });
  const failed = () => heartbeatsOf(c.served, worker).filter((x) => x.status === 503);
  await until("three refused heartbeats", () => failed().length >= 3);
  lift();
  // A lower bound, so load cannot break it: each retry waited for the
  // Retry-After (1 s), not merely the SDK's first backoff (250 ms) — or none.
  const at = failed().map((x) => x.at);
  for (let i = 1; i < at.length; i++) {
    assert.ok(at[i] - at[i - 1] >= 900, `retry ${i} came ${at[i] - at[i - 1]} ms after the last`);
  }
  // And it recovers by itself once the server does.
  const run = await c.waitRun(await c.trigger(name));
  assert.equal(run.status, "COMPLETED");
});

conformance("a refused key ends the worker at start, claiming nothing", async (c) => {
  const name = await c.flow([{ slug: "one", handler: "echo" }]);
  const { spawnAdapter } = await import("./harness.ts");
  const p = spawnAdapter(c.adapter, c.served.url, {
    pool: name,
    worker: "nokey",
    key: "wrong-key",
  });
  const status = await p.status;
  assert.equal(status.code, 2, p.stderr);
  assert.deepEqual(p.events.map((e) => [e.event, e.status]), [["start_failed", 401]]);
  // It did not retry a 401: one heartbeat, refused.
  assert.deepEqual(heartbeatsOf(c.served, "nokey").map((x) => x.status), [401]);
});
