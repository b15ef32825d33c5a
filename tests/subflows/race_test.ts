/**
 * The lock order across runs under real concurrency (Postgres only): a
 * child's end (child lock, then parent) racing its parent's cancel (parent
 * lock, children with skip locked) neither deadlocks nor leaves work behind.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { cancelRun } from "../../shared/engine/runs.ts";
import { subflowTick } from "../../shared/engine/subflows.ts";
import { run, setupChild } from "./helpers.ts";

dbTest("child completions racing parent cancels end every run consistently", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  await call("POST", "/register", {
    name: "main",
    steps: [{ slug: "sub", deployment: "child-dep" }, { slug: "after", depends_on: ["sub"] }],
  });
  const parents: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await call("POST", "/trigger/flows/main", { pool: "main" });
    parents.push(r.body.run_id);
  }
  const tasks = await claimTasks(db.sql, "isolated", null, 20);
  assert.equal(tasks.length, 20);
  await Promise.all([
    ...tasks.map((t) => completeTask(db.sql, t.task, t.lease, { ok: true })),
    ...parents.map((id) => cancelRun(db.sql, id)),
  ]);
  await subflowTick(db.sql); // children a cancel skipped while they were locked
  for (const id of parents) {
    const doc = await run(call, id);
    assert.ok(["CANCELLED", "CANCELLING"].includes(doc.status), doc.status);
    for (const c of doc.children) {
      assert.ok(["COMPLETED", "CANCELLED"].includes(c.status), `child ${c.status}`);
    }
  }
}, { only: "postgres" });
