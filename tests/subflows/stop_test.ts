/** Subflows and the runs around them: failing siblings, orphans, start delays. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, failTask } from "../../shared/engine/tasks.ts";
import { subflowTick } from "../../shared/engine/subflows.ts";
import { run, setupChild, startMain, step } from "./helpers.ts";

dbTest("a parent failing in another step cancels its running child", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep" }, { slug: "bad", max_attempts: 1 }],
  });
  const [bad] = await claimTasks(db.sql, "main", null, 1);
  await failTask(db.sql, bad.task, bad.lease, { message: "sibling broke" });
  const doc = await run(call, id);
  assert.equal(doc.status, "FAILED");
  assert.equal(step(doc, "sub").status, "CANCELLED");
  assert.equal((await run(call, doc.children[0].run_id)).status, "CANCELLED");
  assert.deepEqual(await claimTasks(db.sql, "isolated", null, 5), []);
});

dbTest("the tick cancels a child whose parent stopped waiting for it", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep" }],
  });
  const child = (await run(call, id)).children[0].run_id;
  // What a cancel that found the child locked leaves behind.
  await db.sql`update edgeflow.tasks set status = 'CANCELLED' where run_id = ${id}::uuid`;
  assert.deepEqual(await subflowTick(db.sql), { started: 0, orphans_cancelled: 1 });
  assert.equal((await run(call, child)).status, "CANCELLED");
  assert.deepEqual(await subflowTick(db.sql), { started: 0, orphans_cancelled: 0 });
});

dbTest("a subflow step with a start delay is started by the tick when due", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep", start_delay: 1 }],
  });
  assert.equal((await subflowTick(db.sql)).started, 0, "not due yet");
  assert.equal((await run(call, id)).children.length, 0);
  await advanceClock(db.sql, 1.1);
  const tick = await call("POST", "/trigger/tick");
  assert.equal(tick.body.subflows.started, 1);
  const doc = await run(call, id);
  assert.equal(doc.status, "RUNNING");
  assert.equal(step(doc, "sub").status, "RUNNING");
  assert.equal(doc.children.length, 1);
});
