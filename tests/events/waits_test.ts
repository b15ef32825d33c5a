/**
 * Waits (issue 16): a `wait` step becomes WAITING when its dependencies
 * complete, holds no task, and completes with the payload of the first
 * matching event; the run shows WAITING meanwhile.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { emit, ORDER_FLOW, register, runDoc, runStep, start, stepStatuses } from "./helpers.ts";

dbTest("an event during the wait resumes the step with its payload", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, ORDER_FLOW());
  const run = await start(call, "order", { order_id: "o1" });
  await runStep(sql, run, "charge", { charged: 10 });

  const doc = await runDoc(call, run);
  assert.equal(doc.status, "WAITING");
  assert.deepEqual(await stepStatuses(call, run), {
    charge: "COMPLETED",
    paid: "WAITING",
    ship: "PENDING",
  });
  assert.equal(doc.steps[1].wait.event, "order.paid");
  assert.equal(doc.steps[1].wait.key, "o1");
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where run_id = ${run}::uuid and slug = 'paid'`;
  assert.equal(n, 0, "a waiting step holds no task (no lease, no worker slot)");

  // Another order's event, and this order's with a payload the match refuses: nothing.
  let res = await emit(call, { name: "order.paid", key: "o2", payload: { status: "ok" } });
  assert.equal(res.status, 202);
  assert.equal(res.body.runs_resumed, 0);
  res = await emit(call, { name: "order.paid", key: "o1", payload: { status: "declined" } });
  assert.equal(res.body.runs_resumed, 0);
  assert.equal((await stepStatuses(call, run)).paid, "WAITING");

  res = await emit(call, {
    name: "order.paid",
    key: "o1",
    payload: { status: "ok", amount: 10 },
    id: "evt-1",
  });
  assert.equal(res.status, 202);
  assert.equal(res.body.runs_resumed, 1);
  assert.equal(res.body.event.name, "order.paid");
  assert.deepEqual(await stepStatuses(call, run), {
    charge: "COMPLETED",
    paid: "COMPLETED",
    ship: "QUEUED",
  });
  assert.equal((await runDoc(call, run)).status, "RUNNING");

  // The same id again: nothing new.
  res = await emit(call, { name: "order.paid", key: "o1", payload: { status: "ok" }, id: "evt-1" });
  assert.equal(res.status, 200);
  assert.equal(res.body.duplicate, true);
  assert.equal(res.body.runs_resumed, 0);
  const listed = await call("GET", "/trigger/events?name=order.paid&key=o1");
  assert.equal(listed.status, 200);
  assert.equal(listed.body.events.length, 2, "the duplicate was not stored");
  assert.deepEqual(listed.body.events[0].payload, { status: "ok", amount: 10 });

  const input = await runStep(sql, run, "ship", "shipped");
  assert.deepEqual(input.deps, { paid: { status: "ok", amount: 10 } });
  const done = await runDoc(call, run);
  assert.equal(done.status, "COMPLETED");
});

dbTest("an event before the wait is missed unless the wait looks back far enough", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, ORDER_FLOW());
  await register(call, { ...ORDER_FLOW({ lookback: 600 }), name: "order-lookback" });
  await emit(call, { name: "order.paid", key: "o7", payload: { status: "ok", early: true } });

  const plain = await start(call, "order", { order_id: "o7" });
  await runStep(sql, plain, "charge");
  assert.equal((await stepStatuses(call, plain)).paid, "WAITING", "no lookback: the event is past");

  const looking = await start(call, "order-lookback", { order_id: "o7" });
  await runStep(sql, looking, "charge");
  const doc = await runDoc(call, looking);
  assert.equal(doc.steps[1].status, "COMPLETED", "lookback: the event was already there");
  assert.deepEqual(doc.steps[1].output, { status: "ok", early: true });
  assert.equal(doc.steps[2].status, "QUEUED");
});

dbTest("a wait may take its key from a dependency's output; cancel ends the wait", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, {
    name: "approval",
    steps: [
      { slug: "ask" },
      {
        slug: "answer",
        depends_on: ["ask"],
        wait: { event: "approval", key: "{{ deps.ask/ticket }}", timeout: 60 },
      },
    ],
  });
  const run = await start(call, "approval", {});
  await runStep(sql, run, "ask", { ticket: 42 });
  assert.equal((await runDoc(call, run)).steps[1].wait.key, "42");
  const res = await call("POST", `/trigger/runs/${run}/cancel`);
  assert.equal(res.body.status, "CANCELLED");
  assert.deepEqual(await stepStatuses(call, run), { ask: "COMPLETED", answer: "CANCELLED" });
  const [{ n }] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.waits`;
  assert.equal(n, 0, "the wait is gone with the run");
  assert.equal((await emit(call, { name: "approval", key: "42" })).body.runs_resumed, 0);
});
