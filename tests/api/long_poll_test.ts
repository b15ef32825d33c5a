/** Heartbeats that wait for work (`wait_seconds`). */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

dbTest("a waiting heartbeat receives work triggered while it waits", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "lp", steps: [{ slug: "a" }] });
  const waiting = call("POST", "/heartbeat", {
    worker: "w-lp",
    pool: "default",
    capacity: 1,
    wait_seconds: 10,
  });
  await new Promise((r) => setTimeout(r, 100));
  const run = await call("POST", "/trigger/flows/lp", {});
  assert.equal(run.status, 201);
  const hb = await waiting;
  assert.equal(hb.status, 200);
  assert.equal(hb.body.long_poll, true);
  assert.equal(hb.body.tasks.length, 1, "the task arrived on the open heartbeat");
  assert.equal(hb.body.tasks[0].run_id, run.body.run_id);
});

dbTest("a heartbeat without capacity never waits", async (db) => {
  const { call } = testApp(db);
  const hb = await call("POST", "/heartbeat", {
    worker: "w-zero",
    pool: "default",
    capacity: 0,
    wait_seconds: 20,
  });
  assert.equal(hb.status, 200);
  assert.deepEqual(hb.body.tasks, []);
});

dbTest("wait_seconds is validated", async (db) => {
  const { call } = testApp(db);
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 1,
    wait_seconds: -1,
  });
  assert.equal(hb.status, 422);
  assert.equal(hb.body.errors[0].path, "wait_seconds");
});
