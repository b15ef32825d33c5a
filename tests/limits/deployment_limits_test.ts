/**
 * A deployment's concurrency_limit on runs: `enqueue` keeps new runs waiting
 * in order (no task enqueued) until a run ends; `cancel_new` cancels them.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, completeTask, failTask, sweepExpired } from "../../shared/engine/tasks.ts";
import { deploy, registerSteps, runStatuses, slots, trigger } from "./helpers.ts";

dbTest("enqueue: runs past the limit wait in order and start when a slot frees", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await registerSteps(call, "nightly", [{ slug: "only" }]);
  await deploy(call, { name: "one-at-a-time", flow: "nightly", concurrency_limit: 1 });

  const runs = [];
  for (let i = 0; i < 3; i++) runs.push((await trigger(call, "one-at-a-time")).run_id);
  assert.deepEqual(await runStatuses(sql, runs), ["PENDING", "SCHEDULED", "SCHEDULED"]);
  assert.deepEqual(await slots(sql), { "deployment:<id>": 1 });
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where run_id <> ${runs[0]}::uuid`;
  assert.equal(n, 0, "waiting runs have no task a worker could see");

  for (let i = 0; i < 3; i++) {
    const claimed = await claimTasks(sql, "default", null, 10);
    assert.deepEqual(claimed.map((t) => t.run_id), [runs[i]], `run ${i} is the only one claimable`);
    assert.ok("ok" in await completeTask(sql, claimed[0].task, claimed[0].lease, i));
    // The completing transaction handed the slot over: no wait, no tick.
  }
  assert.deepEqual(await runStatuses(sql, runs), ["COMPLETED", "COMPLETED", "COMPLETED"]);
  assert.deepEqual(await slots(sql), {});
});

dbTest("cancel_new: a run past the limit is CANCELLED at once", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await registerSteps(call, "exclusive", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]);
  await deploy(call, {
    name: "exclusive",
    flow: "exclusive",
    concurrency_limit: 1,
    collision_strategy: "cancel_new",
  });
  const first = await trigger(call, "exclusive");
  const second = await trigger(call, "exclusive");
  assert.equal(first.status, "PENDING");
  assert.equal(second.status, "CANCELLED");
  const doc = (await call("GET", `/trigger/runs/${second.run_id}`)).body;
  assert.equal(doc.error.code, "concurrency_limit");
  assert.deepEqual(doc.steps.map((s: { status: string }) => s.status), ["CANCELLED", "CANCELLED"]);
  assert.deepEqual(await slots(sql), { "deployment:<id>": 1 }, "only the first holds a slot");

  // Once the first has ended, a new run gets the slot.
  await call("POST", `/trigger/runs/${first.run_id}/cancel`);
  assert.equal((await trigger(call, "exclusive")).status, "PENDING");
});

dbTest("failure, crash and cancellation all hand the slot to the next waiting run", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await registerSteps(call, "fragile", [{ slug: "s", max_attempts: 1, timeout: 1 }]);
  await deploy(call, { name: "fragile", flow: "fragile", concurrency_limit: 1 });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await trigger(call, "fragile")).run_id);

  // 0 fails
  let [t] = await claimTasks(sql, "default", null, 10);
  assert.equal(t.run_id, ids[0]);
  await failTask(sql, t.task, t.lease, { message: "no" });
  // 1 crashes: its worker stops heartbeating on the last attempt
  [t] = await claimTasks(sql, "default", null, 10);
  assert.equal(t.run_id, ids[1]);
  await advanceClock(db.sql, 1.2);
  assert.equal((await sweepExpired(sql)).failed, 1);
  // 2 is cancelled while running; 3 is cancelled while waiting (leaves the line)
  [t] = await claimTasks(sql, "default", null, 10);
  assert.equal(t.run_id, ids[2]);
  assert.equal((await call("POST", `/trigger/runs/${ids[3]}/cancel`)).body.status, "CANCELLED");
  assert.equal((await call("POST", `/trigger/runs/${ids[2]}/cancel`)).body.status, "CANCELLING");
  assert.equal(
    (await call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: t.lease })).status,
    409,
  );
  // 4 is next
  [t] = await claimTasks(sql, "default", null, 10);
  assert.equal(t.run_id, ids[4]);
  await completeTask(sql, t.task, t.lease, null);
  assert.deepEqual(await runStatuses(sql, ids), [
    "FAILED",
    "CRASHED",
    "CANCELLED",
    "CANCELLED",
    "COMPLETED",
  ]);
  assert.deepEqual(await slots(sql), {});
});

dbTest("raising a deployment's limit starts waiting runs at once", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await registerSteps(call, "grow", [{ slug: "s" }]);
  const body = { name: "grow", flow: "grow", concurrency_limit: 1 };
  await deploy(call, body);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await trigger(call, "grow")).run_id);
  assert.deepEqual(await runStatuses(sql, ids), ["PENDING", "SCHEDULED", "SCHEDULED", "SCHEDULED"]);
  await deploy(call, { ...body, concurrency_limit: 3 });
  assert.deepEqual(await runStatuses(sql, ids), ["PENDING", "PENDING", "PENDING", "SCHEDULED"]);
  assert.equal((await claimTasks(sql, "default", null, 10)).length, 3);
  await deploy(call, { ...body, concurrency_limit: null });
  assert.deepEqual(await runStatuses(sql, ids), ["RUNNING", "RUNNING", "RUNNING", "PENDING"]);
});
