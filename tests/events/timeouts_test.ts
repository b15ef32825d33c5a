/**
 * Time in waits (issue 16), moved with the engine's clock instead of slept:
 * a wait whose event never comes fails (or continues) at its timeout, from
 * the tick, once; a sleep ends at its time; a debounced trigger starts one
 * run per quiet burst.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { deploy } from "../limits/helpers.ts";
import {
  emit,
  ORDER_FLOW,
  register,
  runDoc,
  runStep,
  start,
  stepStatuses,
  tick,
} from "./helpers.ts";

dbTest("a wait whose event never comes fails its run at the timeout, once", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, ORDER_FLOW({ timeout: 600 }));
  const run = await start(call, "order", { order_id: "o1" });
  await runStep(sql, run, "charge");

  await clock.advance(599);
  assert.equal((await tick(call)).events.timeouts, 0);
  assert.equal((await runDoc(call, run)).status, "WAITING");
  await clock.advance(2);
  // Past its timeout, before the tick saw it: the event comes too late.
  const late = await emit(call, { name: "order.paid", key: "o1", payload: { status: "ok" } });
  assert.equal(late.body.runs_resumed, 0);
  assert.equal((await tick(call)).events.timeouts, 1);
  const doc = await runDoc(call, run);
  assert.equal(doc.status, "FAILED");
  assert.equal(doc.steps[1].status, "FAILED");
  assert.equal(doc.steps[1].error.code, "wait_timeout");
  assert.deepEqual(await stepStatuses(call, run), {
    charge: "COMPLETED",
    paid: "FAILED",
    ship: "CANCELLED",
  });
  assert.equal((await tick(call)).events.timeouts, 0, "fired once");
});

dbTest("on_timeout continue completes the wait with null; a sleep ends at its time", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, ORDER_FLOW({ timeout: 60, on_timeout: "continue" }));
  const until = new Date((await clock.read()).getTime() + 3_600_000).toISOString();
  await register(call, {
    name: "nap",
    steps: [
      { slug: "short", sleep: 30 },
      { slug: "long", depends_on: ["short"], sleep: { until } },
      { slug: "after", depends_on: ["long"] },
    ],
  });
  const order = await start(call, "order", { order_id: "o1" });
  await runStep(sql, order, "charge");
  const nap = await start(call, "nap", {});
  assert.equal((await runDoc(call, nap)).status, "WAITING", "a run that only sleeps waits");
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where run_id = ${nap}::uuid`;
  assert.equal(n, 0, "sleeping holds no task");

  await clock.advance(61);
  assert.equal((await tick(call)).events.timeouts, 2, "the order's wait and the short sleep");
  const doc = await runDoc(call, order);
  assert.equal(doc.steps[1].status, "COMPLETED");
  assert.equal(doc.steps[1].output, null);
  assert.equal(doc.steps[2].status, "QUEUED");
  assert.deepEqual(await stepStatuses(call, nap), {
    short: "COMPLETED",
    long: "WAITING",
    after: "PENDING",
  });
  await clock.advance(3600);
  assert.equal((await tick(call)).events.timeouts, 1);
  assert.deepEqual(await stepStatuses(call, nap), {
    short: "COMPLETED",
    long: "COMPLETED",
    after: "QUEUED",
  });
});

dbTest("the sweep does not crash a run that only waits", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, ORDER_FLOW({ timeout: 86_400 }));
  const run = await start(call, "order", { order_id: "o1" });
  await runStep(sql, run, "charge");
  for (let i = 0; i < 3; i++) {
    await clock.advance(3600);
    await tick(call);
  }
  assert.equal((await runDoc(call, run)).status, "WAITING");
});

dbTest("debounce: a burst for one key starts one run with the last payload", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, { name: "rebuild", steps: [{ slug: "build" }] });
  await deploy(call, {
    name: "rebuild",
    flow: "rebuild",
    triggers: [{
      event: "github.push",
      parameters: { repo: "{{ event.key }}", sha: "{{ event.payload/after }}" },
      debounce: 30,
    }],
  });
  const runs = async () =>
    await sql<{ parameters: Record<string, unknown> }>`
      select parameters from edgeflow.runs order by created_at, id`;

  for (const [i, sha] of ["a1", "a2", "a3"].entries()) {
    const res = await emit(call, { name: "github.push", key: "acme/api", payload: { after: sha } });
    assert.equal(res.body.runs_started, 0, `push ${i} is held back`);
    await clock.advance(20); // each push inside the previous one's 30 s
    await tick(call);
  }
  await emit(call, { name: "github.push", key: "acme/web", payload: { after: "w1" } });
  assert.equal((await runs()).length, 0, "still within the burst");

  await clock.advance(11);
  assert.equal((await tick(call)).events.debounced, 1, "acme/api went quiet");
  assert.deepEqual((await runs()).map((r) => r.parameters), [{ repo: "acme/api", sha: "a3" }]);
  await clock.advance(30);
  assert.equal((await tick(call)).events.debounced, 1, "then acme/web");
  assert.equal((await tick(call)).events.debounced, 0);
  assert.deepEqual((await runs()).map((r) => r.parameters), [
    { repo: "acme/api", sha: "a3" },
    { repo: "acme/web", sha: "w1" },
  ]);
});

dbTest("an event recorded but never processed is processed by the tick", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, ORDER_FLOW());
  const run = await start(call, "order", { order_id: "o1" });
  await runStep(sql, run, "charge");
  // As if the request died after recording: only the first transaction ran.
  await sql`select edgeflow.record_event('order.paid', 'o1', '{"status": "ok"}'::jsonb)`;
  assert.equal((await tick(call)).events.reprocessed, 0, "within its grace time");
  await clock.advance(31);
  assert.equal((await tick(call)).events.reprocessed, 1);
  assert.equal((await stepStatuses(call, run)).paid, "COMPLETED");
  assert.equal((await tick(call)).events.reprocessed, 0);
});

dbTest("events older than the retention are pruned", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await emit(call, { name: "ping", key: "k", id: "once" });
  await clock.advance(7 * 86_400 - 10);
  await emit(call, { name: "ping", key: "k" });
  assert.equal((await tick(call)).events.pruned, 0);
  await clock.advance(20);
  assert.equal((await tick(call)).events.pruned, 1);
  const listed = await call("GET", "/trigger/events?name=ping");
  assert.equal(listed.body.events.length, 1);
});
