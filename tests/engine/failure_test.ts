import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock, testClock } from "../support/clock.ts";
import { flowDef, started } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { getRun } from "../../shared/engine/runs.ts";
import {
  claimTasks,
  completeTask,
  extendLeases,
  failTask,
  sweepExpired,
} from "../../shared/engine/tasks.ts";

dbTest(
  "a failed attempt is retried after base_delay * 2^(attempt-1), then succeeds",
  async ({ sql }) => {
    const v = await registerFlow(sql, flowDef("retry", [{ slug: "flaky", base_delay: 1 }]));
    const runId = await started(sql, v.id);
    const [first] = await claimTasks(sql, "default", null, 1);
    assert.equal(first.attempt, 1);
    const clock = testClock(sql);
    const before = (await clock.read()).getTime();
    const failed = await failTask(sql, first.task, first.lease, { message: "boom" });
    assert.ok("ok" in failed && failed.retry_at);
    const wait = Date.parse(failed.retry_at!) - before;
    assert.ok(wait > 500 && wait < 1600, `first retry after ~1 s, got ${wait} ms`);
    assert.deepEqual(await claimTasks(sql, "default", null, 1), [], "invisible during backoff");
    assert.equal((await getRun(sql, runId))?.status, "RUNNING");

    await advanceClock(sql, 1.1);
    const [second] = await claimTasks(sql, "default", null, 1);
    assert.equal(second.task, first.task);
    assert.equal(second.attempt, 2);
    assert.notEqual(second.lease, first.lease, "a fresh fencing token per attempt");
    const again = await failTask(sql, second.task, second.lease, { message: "boom again" });
    assert.ok("ok" in again && again.retry_at);
    const wait2 = Date.parse(again.retry_at!) - (await clock.read()).getTime();
    assert.ok(wait2 > 1500 && wait2 < 2600, `second retry after ~2 s, got ${wait2} ms`);

    await advanceClock(sql, 2.1);
    const [third] = await claimTasks(sql, "default", null, 1);
    assert.equal(third.attempt, 3);
    await completeTask(sql, third.task, third.lease, "fine");
    const doc = await getRun(sql, runId);
    assert.equal(doc?.status, "COMPLETED");
    assert.equal(doc?.steps[0].attempts, 3);
  },
);

dbTest("exhausted attempts fail the step and the run and cancel the rest", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("exhaust", [
      { slug: "a" },
      { slug: "bad", max_attempts: 2 },
      { slug: "after", depends_on: ["a", "bad"] },
    ]),
  );
  const runId = await started(sql, v.id);
  for (let i = 0; i < 2; i++) {
    const [bad] = await claimTasks(sql, "default", ["bad"], 1);
    assert.equal(bad.attempt, i + 1);
    await failTask(sql, bad.task, bad.lease, { message: `nope ${i + 1}` });
  }
  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "FAILED");
  assert.deepEqual(doc?.error, { step: "bad", message: "nope 2" });
  assert.deepEqual(
    Object.fromEntries(doc!.steps.map((s) => [s.slug, s.status])),
    { a: "CANCELLED", bad: "FAILED", after: "CANCELLED" },
  );
  assert.deepEqual(await claimTasks(sql, "default", null, 10), [], "queued work was removed");
});

dbTest("a non-retryable failure fails at once", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("fatal", [{ slug: "x", max_attempts: 5 }]));
  const runId = await started(sql, v.id);
  const [t] = await claimTasks(sql, "default", null, 1);
  await failTask(sql, t.task, t.lease, { message: "invalid input" }, false);
  assert.equal((await getRun(sql, runId))?.status, "FAILED");
});

dbTest("a map element that fails is retried alone", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("map-retry", [{ slug: "src" }, { slug: "each", depends_on: ["src"], map: "src" }]),
  );
  const runId = await started(sql, v.id);
  const [src] = await claimTasks(sql, "default", null, 1);
  await completeTask(sql, src.task, src.lease, ["a", "b", "c"]);
  const each = await claimTasks(sql, "default", null, 10);
  assert.equal(each.length, 3);
  for (const t of each) {
    if (t.input.item === "b") await failTask(sql, t.task, t.lease, { message: "transient" });
    else await completeTask(sql, t.task, t.lease, `${t.input.item}!`);
  }
  const [retry] = await claimTasks(sql, "default", null, 10);
  assert.equal(retry.input.item, "b");
  assert.equal(retry.attempt, 2);
  await completeTask(sql, retry.task, retry.lease, "b!");
  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "COMPLETED");
  assert.deepEqual(doc?.output, { each: ["a!", "b!", "c!"] });
});

dbTest("an expired lease is claimable again and the old token is refused", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("lease", [{ slug: "slow", timeout: 1 }]));
  const runId = await started(sql, v.id);
  const [old] = await claimTasks(sql, "default", null, 1, "w-old");
  assert.deepEqual(await claimTasks(sql, "default", null, 1), [], "leased");
  await advanceClock(sql, 1.2);
  const [fresh] = await claimTasks(sql, "default", null, 1, "w-new");
  assert.equal(fresh.task, old.task);
  assert.equal(fresh.attempt, 2, "the crashed attempt counts");

  assert.deepEqual(await completeTask(sql, old.task, old.lease, "late"), {
    error: "stale_lease",
    status: "RUNNING",
  });
  assert.deepEqual(await extendLeases(sql, [{ task: old.task, lease: old.lease }]), {
    lost: [old.task],
    cancel: [],
    extended: 0,
  });
  const ok = await completeTask(sql, fresh.task, fresh.lease, "on time");
  assert.ok("ok" in ok);
  assert.deepEqual((await getRun(sql, runId))?.output, { slow: "on time" });
});

dbTest(
  "the sweep re-queues an expired lease, and fails it on the last attempt",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("sweep", [{ slug: "s", timeout: 1, max_attempts: 2 }]),
    );
    const runId = await started(sql, v.id);
    await claimTasks(sql, "default", null, 1);
    await advanceClock(sql, 1.2);
    assert.deepEqual(await sweepExpired(sql), { swept: 1, requeued: 1, failed: 0, cancelled: 0 });
    const [again] = await claimTasks(sql, "default", null, 1);
    assert.equal(again.attempt, 2);
    await advanceClock(sql, 1.2);
    assert.equal((await sweepExpired(sql)).failed, 1);
    const doc = await getRun(sql, runId);
    assert.equal(doc?.status, "CRASHED");
    assert.match(String((doc?.error as { message: string }).message), /lease expired/);
  },
);

dbTest("heartbeats keep a lease alive past its timeout", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("alive", [{ slug: "long", timeout: 2 }]));
  const runId = await started(sql, v.id);
  const [t] = await claimTasks(sql, "default", null, 1);
  for (let i = 0; i < 3; i++) {
    await advanceClock(sql, 1.1);
    const r = await extendLeases(sql, [{ task: t.task, lease: t.lease }]);
    assert.deepEqual(r.lost, []);
    assert.equal((await sweepExpired(sql)).swept, 0);
  }
  assert.deepEqual(await claimTasks(sql, "default", null, 1), []);
  assert.ok("ok" in await completeTask(sql, t.task, t.lease, 1));
  assert.equal((await getRun(sql, runId))?.status, "COMPLETED");
});

dbTest("a duplicate completion changes nothing", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("dup", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]),
  );
  const runId = await started(sql, v.id);
  const [a] = await claimTasks(sql, "default", null, 1);
  const [first, second] = await Promise.all([
    completeTask(sql, a.task, a.lease, "one"),
    completeTask(sql, a.task, a.lease, "two"),
  ]);
  assert.equal([first, second].filter((r) => "ok" in r).length, 1, "exactly one accepted");
  const b = await claimTasks(sql, "default", null, 10);
  assert.equal(b.length, 1, "the dependent was enqueued once");
  const doc = await getRun(sql, runId);
  assert.equal(doc?.steps[0].output, "ok" in first ? "one" : "two");
});

dbTest("cancelling a run removes queued work and refuses late results", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("cancel", [{ slug: "a" }, { slug: "b" }]));
  const runId = await started(sql, v.id);
  const [a] = await claimTasks(sql, "default", ["a"], 1);
  const { cancelRun } = await import("../../shared/engine/runs.ts");
  assert.equal((await cancelRun(sql, runId)).status, "CANCELLING");
  assert.deepEqual(await claimTasks(sql, "default", null, 10), [], "b was removed");
  assert.deepEqual((await extendLeases(sql, [{ task: a.task, lease: a.lease }])).cancel, [a.task]);
  assert.deepEqual(await completeTask(sql, a.task, a.lease, 1), {
    error: "run_not_running",
    status: "CANCELLING",
  });
  assert.equal((await getRun(sql, runId))?.status, "CANCELLED");
});
