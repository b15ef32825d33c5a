/** Pool and queue concurrency limits, and paused pools and queues. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { deploy, registerSteps, slots, trigger } from "./helpers.ts";

dbTest("a pool's concurrency_limit caps the tasks running in it", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  assert.equal(
    (await call("POST", "/deploy/pools", { name: "gpu", concurrency_limit: 2 })).status,
    201,
  );
  await registerSteps(call, "train", [{ slug: "fit" }]);
  await deploy(call, { name: "train", flow: "train", pool: "gpu" });
  for (let i = 0; i < 3; i++) await trigger(call, "train");

  const first = await claimTasks(sql, "gpu", null, 10);
  assert.equal(first.length, 2);
  assert.deepEqual(await slots(sql), { "pool:gpu": 2 });
  assert.deepEqual(await claimTasks(sql, "gpu", null, 10), []);
  await completeTask(sql, first[0].task, first[0].lease, null);
  assert.deepEqual(await slots(sql), { "pool:gpu": 1 });
  await advanceClock(db.sql, 1.1);
  assert.equal((await claimTasks(sql, "gpu", null, 10)).length, 1);
});

dbTest("a queue's concurrency_limit and priority, set through the queue route", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const q = await call("POST", "/deploy/pools/default/queues", {
    name: "slow",
    concurrency_limit: 1,
  });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  const queues = Object.fromEntries(
    q.body.queues.map((x: { name: string; concurrency_limit: number }) => [x.name, x]),
  );
  assert.equal(queues.slow.concurrency_limit, 1);
  assert.equal(
    (await call("POST", "/deploy/pools/default/queues", { name: "fast", priority: 10 })).status,
    201,
  );
  await registerSteps(call, "q", [{ slug: "s" }]);
  await deploy(call, { name: "slow", flow: "q", queue: "slow" });
  await deploy(call, { name: "fast", flow: "q", queue: "fast" });
  for (let i = 0; i < 2; i++) {
    await trigger(call, "slow");
    await trigger(call, "fast");
  }
  const queueOf = async (task: string) =>
    (await sql<{ queue: string }>`
      select r.queue from edgeflow.tasks t join edgeflow.runs r on r.id = t.run_id
       where t.id = ${task}::uuid`)[0].queue;
  for (let i = 0; i < 2; i++) {
    const [t] = await claimTasks(sql, "default", null, 1);
    assert.equal(await queueOf(t.task), "fast", "the higher priority queue is read first");
  }
  const rest = await claimTasks(sql, "default", null, 10);
  assert.equal(rest.length, 1, "one slow task: its queue's limit is 1");
  assert.equal(await queueOf(rest[0].task), "slow");
  assert.deepEqual(await slots(sql), { "queue:default/slow": 1 });

  const bad = await call("POST", "/deploy/pools/default/queues", { name: "x", priority: "high" });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, "priority");
  assert.equal((await call("POST", "/deploy/pools/nope/queues", { name: "x" })).status, 404);
  assert.equal((await call("POST", "/deploy/pools/default/queues", { name: "a b" })).status, 422);
});

dbTest("nothing is claimed from a paused pool or a paused queue", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await call("POST", "/deploy/pools", { name: "p" });
  await call("POST", "/deploy/pools/p/queues", { name: "held", paused: true });
  await registerSteps(call, "pause", [{ slug: "s" }]);
  await deploy(call, { name: "in-default", flow: "pause", pool: "p" });
  await deploy(call, { name: "in-held", flow: "pause", pool: "p", queue: "held" });
  await trigger(call, "in-default");
  await trigger(call, "in-held");

  await call("POST", "/deploy/pools", { name: "p", paused: true });
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "p",
    capacity: 10,
    running: [],
  });
  assert.deepEqual(hb.body.tasks, [], "paused pool");

  await call("POST", "/deploy/pools", { name: "p", paused: false });
  const one = await claimTasks(sql, "p", null, 10);
  assert.equal(one.length, 1, "the paused queue's task stays");
  await call("POST", "/deploy/pools/p/queues", { name: "held", paused: false });
  assert.equal((await claimTasks(sql, "p", null, 10)).length, 1);
});
