/**
 * Push pools: tasks delivered through QStash (the real client, the local
 * look-alike) to an HTTP worker, which answers through the ordinary
 * complete route with the lease it was given.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { startQstashServer } from "../support/qstash_server.ts";
import { createQstashPublisher } from "../../shared/qstash/publish.ts";
import { Clock, clockApp, deploy, tick } from "./helpers.ts";
import { ADMIN_KEY } from "../support/app.ts";

const PUBLIC = "http://edgeflow.test";
const WORKER = "http://worker.test/run";

dbTest("tasks of a push pool reach the worker URL through QStash and complete", async (db) => {
  await using qstash = await startQstashServer();
  const clock = new Clock(Date.now());
  const { app, call } = clockApp(db.sql, clock, {
    publicUrl: PUBLIC,
    qstash: {
      token: qstash.token,
      url: qstash.url,
      currentSigningKey: qstash.currentSigningKey,
      nextSigningKey: qstash.nextSigningKey,
    },
  });
  await call("POST", "/register", {
    name: "chain",
    steps: [{ slug: "a", handler: "h.a" }, { slug: "b", handler: "h.b", depends_on: ["a"] }],
  });
  assert.equal(
    (await call("POST", "/deploy/pools", { name: "edge", type: "push", url: WORKER })).status,
    201,
  );
  await deploy(call, { name: "pushy", flow: "chain", pool: "edge", parameters: { n: 2 } });
  const run = await call("POST", "/trigger/pushy", {});
  assert.equal(run.status, 201);

  // A serverless worker: takes the pushed task, answers through the callback URL.
  const answers: number[] = [];
  const worker = async (request: Request): Promise<Response> => {
    assert.equal(request.url, WORKER);
    const task = await request.json();
    const done = await app.request(task.callbacks.complete, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ lease: task.lease, output: { step: task.step, n: task.input.run.n } }),
    });
    answers.push(done.status);
    return new Response(null, { status: done.ok ? 200 : 500 });
  };
  const deliverNew = async () => {
    const fresh = [...qstash.messages.values()].filter((m) => m.deliveries === 0);
    for (const m of fresh) await qstash.deliver(m.messageId, { fetch: worker });
    return fresh;
  };

  assert.equal((await tick(call)).pushed, 1);
  const [first] = await deliverNew();
  assert.equal(first.destination, WORKER);
  const body = JSON.parse(first.body);
  assert.equal(body.step, "a");
  assert.equal(body.handler, "h.a");
  assert.match(body.lease, /^[0-9a-f-]{36}$/);
  assert.equal(first.deduplicationId, `${body.task}.1`);
  assert.equal(body.callbacks.fail, `${PUBLIC}/heartbeat/tasks/${body.task}/fail`);

  // The dependent step became ready on completion; the next pass pushes it.
  assert.equal((await tick(call)).pushed, 1);
  await deliverNew();
  assert.deepEqual(answers, [200, 200]);
  const finished = await call("GET", `/trigger/runs/${run.body.run_id}`);
  assert.equal(finished.body.status, "COMPLETED");
  assert.deepEqual(finished.body.output, { b: { step: "b", n: 2 } });

  // QStash redelivers (at least once): the stale lease is refused, nothing changes.
  await qstash.deliver(first.messageId, { redelivery: true, fetch: worker });
  assert.equal(answers.at(-1), 409);
  assert.equal((await tick(call)).pushed, 0);
});

dbTest("a QStash-fired schedule in a push pool pushes its first task at once", async (db) => {
  await using qstash = await startQstashServer();
  const clock = new Clock(Date.now());
  const { app, call } = clockApp(db.sql, clock, {
    publicUrl: PUBLIC,
    qstash: {
      token: qstash.token,
      url: qstash.url,
      currentSigningKey: qstash.currentSigningKey,
      nextSigningKey: qstash.nextSigningKey,
    },
  });
  await call("POST", "/register", { name: "one", steps: [{ slug: "a", handler: "h.a" }] });
  await call("POST", "/deploy/pools", { name: "edge", type: "push", url: WORKER });
  const d = await deploy(call, {
    name: "minutely",
    flow: "one",
    pool: "edge",
    schedules: [{ interval: 60, anchor: "2026-01-01T00:00:00Z" }],
  });
  // The fire time that just passed, as QStash would deliver it (a few ms late).
  const due = new Date(Math.floor(clock.ms / 60_000) * 60_000).toISOString();
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  const { messageId } = await publisher.publishDelayed({
    url: `${PUBLIC}/trigger/schedules/${d.schedules[0].id}/fire`,
    body: { schedule_id: d.schedules[0].id, scheduled_time: due },
  });
  const fired = await qstash.deliver(messageId, { fetch: (r) => app.fetch(r) });
  assert.equal(fired.status, 200, fired.body);
  assert.deepEqual([JSON.parse(fired.body).created, JSON.parse(fired.body).pushed], [1, 1]);
  const pushed = [...qstash.messages.values()].filter((m) => m.destination === WORKER);
  assert.equal(pushed.length, 1);
  assert.equal(JSON.parse(pushed[0].body).step, "a");
});
