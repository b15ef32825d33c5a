/**
 * `GET /trigger/runs/:id` says why a step waits (issue 11, item 12): per
 * step `waiting_for`, null when nothing is known to hold it back. Worker
 * liveness is moved by writing `last_heartbeat_at`, not by waiting.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { deploy, registerSteps } from "../limits/helpers.ts";
import { startRun } from "../../shared/engine/runs.ts";

async function waitingFor(call: TestApp["call"], runId: string) {
  const res = await call("GET", `/trigger/runs/${runId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries(
    res.body.steps.map((s: { slug: string; waiting_for: unknown }) => [s.slug, s.waiting_for]),
  );
}

async function adHoc(call: TestApp["call"], flow: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", `/trigger/flows/${flow}`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.run_id as string;
}

const beat = (call: TestApp["call"], body: Record<string, unknown>) =>
  call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 0, ...body });

dbTest(
  "a queued step whose handler no online worker serves says no_worker; a serving worker clears it",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [
      { slug: "extract", handler: "etl.extract" },
      { slug: "report", handler: "etl.report", depends_on: ["extract"] },
    ]);
    const run = await adHoc(call, "etl");
    const noWorker = {
      reason: "no_worker",
      pool: "default",
      handler: "etl.extract",
      message: "no worker online for handler etl.extract in pool default",
    };
    assert.deepEqual(await waitingFor(call, run), { extract: noWorker, report: null });

    // A worker for other handlers, or in another pool, does not count.
    await call("POST", "/deploy/pools", { name: "other" });
    assert.equal((await beat(call, { handlers: ["etl.report"] })).status, 200);
    assert.equal((await beat(call, { worker: "w2", pool: "other" })).status, 200);
    assert.deepEqual((await waitingFor(call, run)).extract, noWorker);

    // One naming it, or naming no list (all handlers), does.
    await beat(call, { worker: "w3", handlers: ["etl.extract"] });
    assert.deepEqual(await waitingFor(call, run), { extract: null, report: null });
    await db.sql`update edgeflow.workers set handlers = null where name = 'w3'`;
    assert.equal((await waitingFor(call, run)).extract, null);

    // Past its liveness window (3 heartbeat intervals) it is no longer online.
    await db.sql`update edgeflow.workers
                    set last_heartbeat_at = now() - make_interval(secs => 3 * heartbeat_seconds + 1)
                  where name = 'w3'`;
    assert.deepEqual((await waitingFor(call, run)).extract, noWorker);

    // A run that ended waits for nothing.
    await call("POST", `/trigger/runs/${run}/cancel`);
    assert.deepEqual(await waitingFor(call, run), { extract: null, report: null });
  },
);

dbTest(
  "paused pools and queues and full concurrency limits are named as what holds a step",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
    await call("POST", "/deploy/pools", { name: "frozen", paused: true });
    const frozen = await adHoc(call, "etl", { pool: "frozen" });
    assert.deepEqual((await waitingFor(call, frozen)).extract, {
      reason: "pool_paused",
      pool: "frozen",
      message: "pool frozen is paused",
    });

    // A paused queue, then a full queue limit (a worker is online from here on).
    await beat(call, { handlers: ["etl.extract"] });
    assert.equal(
      (await call("POST", "/deploy/pools/default/queues", { name: "default", paused: true }))
        .status,
      200,
    );
    const queued = await adHoc(call, "etl");
    assert.deepEqual((await waitingFor(call, queued)).extract, {
      reason: "queue_paused",
      pool: "default",
      queue: "default",
      message: "queue default of pool default is paused",
    });
    await call("POST", "/deploy/pools/default/queues", { name: "default", concurrency_limit: 0 });
    assert.deepEqual((await waitingFor(call, queued)).extract, {
      reason: "concurrency_limit",
      limit: "queue:default/default",
      message: "concurrency limit queue:default/default is full (0 of 0 running)",
    });
    await call("POST", "/deploy/pools/default/queues", { name: "default" });
    assert.equal((await waitingFor(call, queued)).extract, null);

    // A tag limit of 0: the tag comes from the trigger here.
    assert.equal(
      (await call("POST", "/deploy/concurrency-limits", { tag: "etl", limit: 0 })).status,
      201,
    );
    const limited = await adHoc(call, "etl", { tags: ["etl"] });
    assert.deepEqual((await waitingFor(call, limited)).extract, {
      reason: "concurrency_limit",
      limit: "tag:etl",
      message: "concurrency limit tag:etl is full (0 of 0 running)",
    });

    // A deployment at its run limit: the waiting run's first step says so.
    await deploy(call, { name: "one-at-a-time", flow: "etl", concurrency_limit: 1 });
    const first = await call("POST", "/trigger/one-at-a-time", {});
    const second = await call("POST", "/trigger/one-at-a-time", {});
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.equal((await waitingFor(call, first.body.run_id)).extract, null);
    assert.deepEqual((await waitingFor(call, second.body.run_id)).extract, {
      reason: "concurrency_limit",
      limit: "deployment:one-at-a-time",
      message:
        "deployment one-at-a-time is at its concurrency limit: at most 1 run(s) at a time, this one waits its turn",
    });
  },
);

dbTest("a start delay, a retry backoff and a later schedule say until when", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "slow", [
    { slug: "later", handler: "slow.later", start_delay: 600 },
    { slug: "flaky", handler: "slow.flaky", base_delay: 600, max_attempts: 3 },
  ]);
  const run = await adHoc(call, "slow");
  await beat(call, {}); // a worker for every handler is online
  const delayed = (await waitingFor(call, run)).later;
  assert.equal(delayed.reason, "start_delay");
  assert.match(delayed.until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(delayed.message, `start delay: starts at ${delayed.until}`);

  const [task] = (await beat(call, { capacity: 1 })).body.tasks;
  assert.equal(task.step, "flaky");
  const failed = await call("POST", `/heartbeat/tasks/${task.task}/fail`, {
    lease: task.lease,
    error: { message: "try again" },
  });
  assert.equal(failed.status, 200, JSON.stringify(failed.body));
  const backoff = (await waitingFor(call, run)).flaky;
  assert.equal(backoff.reason, "retry_backoff");
  assert.equal(Date.parse(backoff.until), Date.parse(failed.body.retry_at));
  assert.equal(backoff.message, `retry backoff: attempt 2 starts at ${backoff.until}`);

  // A run scheduled for later: its steps wait for that time.
  const [v] = await db.sql<{ id: string }>`
    select id from edgeflow.flow_versions where flow_name = 'slow'`;
  const at = new Date(Date.now() + 3_600_000);
  const scheduled = await startRun(db.sql, v.id, {}, { scheduledTime: at });
  assert.equal(scheduled.error, undefined);
  const waits = await waitingFor(call, scheduled.run_id!);
  assert.equal(waits.flaky.reason, "scheduled");
  assert.equal(Date.parse(waits.flaky.until), Math.floor(at.getTime()));
  assert.equal(waits.flaky.message, `scheduled for ${waits.flaky.until}`);
});

dbTest(
  "worker start's check: queued tasks of a pool by handler, and who serves them",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [
      { slug: "extract", handler: "etl.extract" },
      { slug: "load", handler: "etl.load" },
    ]);
    await adHoc(call, "etl");
    await adHoc(call, "etl");
    await beat(call, { handlers: ["etl.load"] });
    const res = await call("GET", "/heartbeat/pools/default/queued");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      pool: "default",
      handlers: [
        { handler: "etl.extract", queued: 2, served: false },
        { handler: "etl.load", queued: 2, served: true },
      ],
    });
    assert.equal((await call("GET", "/heartbeat/pools/nope/queued")).status, 404);
  },
);
