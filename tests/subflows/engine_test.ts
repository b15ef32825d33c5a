/** Subflow steps in the engine: children in another pool, retries, cancel, fan-out, refusals. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, completeTask, failTask } from "../../shared/engine/tasks.ts";
import { subflowTick } from "../../shared/engine/subflows.ts";
import { run, setupChild, startMain, step } from "./helpers.ts";

const MAIN = {
  name: "main",
  steps: [
    { slug: "fetch" },
    { slug: "process", deployment: "child-dep", depends_on: ["fetch"], args: { size: 3 } },
    { slug: "store", depends_on: ["process"] },
  ],
};

dbTest("a deployment step runs the child in its pool and completes with its output", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, MAIN, { day: "mon" });
  const [fetch] = await claimTasks(db.sql, "main", null, 5);
  await completeTask(db.sql, fetch.task, fetch.lease, { rows: 3 });

  let doc = await run(call, id);
  assert.equal(step(doc, "process").status, "RUNNING");
  assert.equal(doc.children.length, 1);
  assert.deepEqual(await claimTasks(db.sql, "main", null, 5), [], "no worker queue for it");
  const child = await run(call, doc.children[0].run_id);
  assert.equal(child.pool, "isolated");
  assert.equal(child.deployment, "child-dep");
  assert.deepEqual(child.parent, { run_id: id, step: "process", task: child.parent.task });
  assert.deepEqual(child.parameters, { greeting: "hi", size: 3 }, "defaults overlaid by args");

  const [work] = await claimTasks(db.sql, "isolated", null, 5);
  assert.equal(work.run_id, child.id);
  await completeTask(db.sql, work.task, work.lease, { total: 42 });
  doc = await run(call, id);
  assert.equal(step(doc, "process").status, "COMPLETED");
  assert.deepEqual(step(doc, "process").output, { work: { total: 42 } });
  assert.deepEqual(doc.children, [
    { run_id: child.id, status: "COMPLETED", step: "process", task_index: 0 },
  ]);

  const [store] = await claimTasks(db.sql, "main", null, 5);
  assert.equal(store.step, "store");
  assert.deepEqual(store.input.deps, { process: { work: { total: 42 } } });
  await completeTask(db.sql, store.task, store.lease, "stored");
  assert.equal((await run(call, id)).status, "COMPLETED");
});

dbTest("a failed child is retried with a new child, then fails the run", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep", max_attempts: 2, base_delay: 0 }],
  });
  const [first] = await claimTasks(db.sql, "isolated", null, 5);
  await failTask(db.sql, first.task, first.lease, { message: "child broke" }, false);
  let doc = await run(call, id);
  assert.equal(doc.status, "RUNNING");
  assert.equal(step(doc, "sub").status, "RUNNING", "waiting out its backoff");
  assert.equal(doc.children.length, 1);
  assert.equal(doc.children[0].status, "FAILED");

  assert.deepEqual(await subflowTick(db.sql), { started: 1, orphans_cancelled: 0 });
  doc = await run(call, id);
  assert.equal(doc.children.length, 2);
  assert.equal(doc.children[1].status, "PENDING");
  const [second] = await claimTasks(db.sql, "isolated", null, 5);
  assert.equal(second.run_id, doc.children[1].run_id);
  await failTask(db.sql, second.task, second.lease, { message: "broke again" }, false);

  doc = await run(call, id);
  assert.equal(doc.status, "FAILED");
  assert.equal(step(doc, "sub").status, "FAILED");
  assert.equal(step(doc, "sub").attempts, 2);
  assert.equal(doc.error.code, "subflow_failed");
  assert.match(doc.error.message, /ended FAILED: .*broke again/);
  assert.equal((await subflowTick(db.sql)).started, 0);
});

dbTest("cancelling the parent cancels its children", async (db) => {
  const { call } = testApp(db);
  await setupChild(call, {
    steps: [{ slug: "work" }, { slug: "later", depends_on: ["work"] }],
  });
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "a", deployment: "child-dep" }, { slug: "b", deployment: "child-dep" }],
  });
  let doc = await run(call, id);
  const [a, b] = doc.children;
  const [claimed] = await claimTasks(db.sql, "isolated", null, 1); // one child has a worker busy
  const cancel = await call("POST", `/trigger/runs/${id}/cancel`);
  assert.equal(cancel.status, 202);
  doc = await run(call, id);
  assert.equal(doc.status, "CANCELLED", "no worker task of its own kept it CANCELLING");
  const statuses = [(await run(call, a.run_id)).status, (await run(call, b.run_id)).status];
  const busy = claimed.run_id === a.run_id ? 0 : 1;
  assert.equal(statuses[busy], "CANCELLING");
  assert.equal(statuses[1 - busy], "CANCELLED");
  // The busy child's worker finds out; the parent is not touched again.
  const late = await completeTask(db.sql, claimed.task, claimed.lease, 1);
  assert.equal("error" in late && late.error, "run_not_running");
  assert.equal((await run(call, claimed.run_id)).status, "CANCELLED");
  assert.equal((await run(call, id)).status, "CANCELLED");
});

dbTest("a cancelled child fails the parent step without retries", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep", max_attempts: 3 }],
  });
  const child = (await run(call, id)).children[0].run_id;
  await call("POST", `/trigger/runs/${child}/cancel`);
  const doc = await run(call, id);
  assert.equal(doc.status, "FAILED");
  assert.match(doc.error.message, /ended CANCELLED/);
});

dbTest("a map step with a deployment fans out one child per element, in order", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [
      { slug: "list" },
      { slug: "each", deployment: "child-dep", depends_on: ["list"], map: "list" },
    ],
  });
  const [list] = await claimTasks(db.sql, "main", null, 1);
  await completeTask(db.sql, list.task, list.lease, ["a", "b", "c"]);
  let doc = await run(call, id);
  assert.deepEqual(doc.children.map((c: { task_index: number }) => c.task_index), [0, 1, 2]);
  const tasks = await claimTasks(db.sql, "isolated", null, 5);
  assert.equal(tasks.length, 3);
  // Finish them last element first: the fan-in still follows element order.
  for (
    const t of [...tasks].sort((x, y) =>
      String(y.input.run.item).localeCompare(String(x.input.run.item))
    )
  ) {
    await completeTask(db.sql, t.task, t.lease, `done ${t.input.run.item}`);
  }
  doc = await run(call, id);
  assert.equal(doc.status, "COMPLETED");
  assert.deepEqual(doc.output, {
    each: [{ work: "done a" }, { work: "done b" }, { work: "done c" }],
  });
});

dbTest("an unknown, paused or unsatisfiable deployment fails the step clearly", async (db) => {
  const { call } = testApp(db);
  await setupChild(call, {
    parameters: { type: "object", required: ["greeting", "day"] },
  });
  const unknown = await startMain(call, {
    name: "m1",
    steps: [{ slug: "sub", deployment: "no-such-dep", max_attempts: 3 }],
  });
  let doc = await run(call, unknown);
  assert.equal(doc.status, "FAILED");
  assert.equal(step(doc, "sub").status, "FAILED");
  assert.equal(step(doc, "sub").attempts, 1, "not retried");
  assert.match(doc.error.message, /step "sub": deployment "no-such-dep" does not exist/);
  assert.deepEqual(doc.children, []);

  const missing = await startMain(call, {
    name: "m2",
    steps: [{ slug: "sub", deployment: "child-dep" }],
  });
  doc = await run(call, missing);
  assert.equal(doc.status, "FAILED");
  assert.match(
    doc.error.message,
    /parameters do not match the schema .*parameters.day: is required/,
  );
  assert.deepEqual(doc.error.errors, [{ path: "parameters.day", message: "is required" }]);

  const ok = await startMain(call, {
    name: "m3",
    steps: [{ slug: "sub", deployment: "child-dep", args: { day: "tue" } }],
  });
  assert.equal((await run(call, ok)).children.length, 1);

  await call("POST", "/deploy", {
    name: "child-dep",
    flow: "child",
    pool: "isolated",
    paused: true,
  });
  const paused = await startMain(call, {
    name: "m4",
    steps: [{ slug: "sub", deployment: "child-dep", args: { day: "tue" } }],
  });
  doc = await run(call, paused);
  assert.equal(doc.status, "FAILED");
  assert.match(doc.error.message, /deployment "child-dep" is paused/);
});
