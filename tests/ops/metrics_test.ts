/**
 * `GET /metrics` (issue 15): Prometheus text that a strict parser accepts,
 * with runs by state, queue depth and age per pool and handler, workers
 * online, lease expiries and the trigger and claim latency histograms.
 * Lease expiry and worker liveness are moved by writing the rows, not by
 * waiting.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { registerSteps } from "../limits/helpers.ts";
import { parsePrometheus, valueOf } from "./prometheus_parser.ts";
import { advanceClock } from "../support/clock.ts";

dbTest("metrics report runs, queues, workers, lease expiries and latencies", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "etl", [
    { slug: "extract", handler: "etl.extract" },
    { slug: "load", handler: "etl.load", depends_on: ["extract"] },
  ]);
  const runs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call("POST", "/trigger/flows/etl", {});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    runs.push(res.body.run_id);
  }
  await call("POST", `/trigger/runs/${runs[2]}/cancel`);

  const scrape = async () => {
    const res = await call("GET", "/metrics");
    assert.equal(res.status, 200, String(res.body));
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(res.body as string);
  };
  let m = await scrape();
  assert.equal(valueOf(m, "edgeflow_runs", "edgeflow_runs", { state: "PENDING" }), 2);
  assert.equal(valueOf(m, "edgeflow_runs", "edgeflow_runs", { state: "CANCELLED" }), 1);
  assert.equal(valueOf(m, "edgeflow_runs", "edgeflow_runs", { state: "FAILED" }), 0);
  const extract = { pool: "default", handler: "etl.extract" };
  assert.equal(valueOf(m, "edgeflow_queue_depth", "edgeflow_queue_depth", extract), 2);
  assert.ok(
    valueOf(
      m,
      "edgeflow_queue_oldest_age_seconds",
      "edgeflow_queue_oldest_age_seconds",
      extract,
    )! >=
      0,
  );
  assert.equal(
    valueOf(m, "edgeflow_workers_online", "edgeflow_workers_online", { pool: "default" }),
    0,
  );
  const triggers = valueOf(
    m,
    "edgeflow_trigger_duration_seconds",
    "edgeflow_trigger_duration_seconds_count",
  );
  assert.equal(triggers, 3);

  // A worker claims one task, then its lease runs out and the tick sweeps it.
  const beat = await call("POST", "/heartbeat", {
    worker: "w1",
    pool: "default",
    handlers: ["etl.extract"],
    capacity: 1,
  });
  assert.equal(beat.status, 200, JSON.stringify(beat.body));
  assert.equal(beat.body.tasks.length, 1);
  m = await scrape();
  assert.equal(valueOf(m, "edgeflow_queue_depth", "edgeflow_queue_depth", extract), 1);
  assert.equal(
    valueOf(m, "edgeflow_workers_online", "edgeflow_workers_online", { pool: "default" }),
    1,
  );
  assert.equal(
    valueOf(m, "edgeflow_claim_duration_seconds", "edgeflow_claim_duration_seconds_count"),
    1,
  );
  assert.equal(valueOf(m, "edgeflow_lease_expiries_total", "edgeflow_lease_expiries_total"), 0);

  await db.sql`update edgeflow.tasks set lease_expires_at = now() - interval '1 second'
                where status = 'RUNNING'`;
  await db.sql`update edgeflow.workers set last_heartbeat_at = now() - interval '1 hour'`;
  assert.equal((await call("POST", "/trigger/tick")).status, 200);
  m = await scrape();
  assert.equal(valueOf(m, "edgeflow_lease_expiries_total", "edgeflow_lease_expiries_total"), 1);
  assert.equal(valueOf(m, "edgeflow_queue_depth", "edgeflow_queue_depth", extract), 2);
  assert.equal(
    valueOf(m, "edgeflow_workers_online", "edgeflow_workers_online", { pool: "default" }),
    0,
  );
});

dbTest("metrics need a key of scope read; /trigger/metrics serves the same", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("GET", "/metrics", undefined, { key: null })).status, 401);
  const worker = await call("POST", "/deploy/keys", { name: "w", scopes: ["worker"] });
  const reader = await call("POST", "/deploy/keys", { name: "r", scopes: ["read"] });
  const refused = await call("GET", "/metrics", undefined, { key: worker.body.key });
  assert.equal(refused.status, 403);
  assert.match(refused.headers.get("content-type")!, /problem\+json/);
  const ok = await call("GET", "/trigger/metrics", undefined, { key: reader.body.key });
  assert.equal(ok.status, 200);
  assert.ok(parsePrometheus(ok.body as string).has("edgeflow_runs"));
});

Deno.test("the parser refuses what a scraper would", () => {
  const bad = [
    "edgeflow_x 1\n", // no TYPE
    "# TYPE a gauge\n# TYPE a gauge\na 1\n",
    '# TYPE a gauge\na{l="x} 1\n',
    "# TYPE a gauge\na one\n",
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    "# TYPE a gauge\na 1",
  ];
  for (const text of bad) assert.throws(() => parsePrometheus(text), Error, text);
});

dbTest("late runs and queues no online worker serves show in /metrics", async (db) => {
  const { call } = testApp(db, { lateSeconds: 120 });
  await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
  await call("POST", "/deploy", { name: "nightly", flow: "etl" });
  assert.equal((await call("POST", "/trigger/nightly", {})).status, 201);
  assert.equal((await call("POST", "/trigger/flows/etl", {})).status, 201);
  const scrape = async () => parsePrometheus((await call("GET", "/metrics")).body as string);
  const extract = { pool: "default", handler: "etl.extract" };

  let m = await scrape();
  assert.equal(valueOf(m, "edgeflow_queue_unserved", "edgeflow_queue_unserved", extract), 1);
  assert.equal(m.get("edgeflow_runs_late")!.samples.length, 0);

  // A worker for another handler does not serve it; one naming it does.
  await call("POST", "/heartbeat", { worker: "w1", pool: "default", handlers: ["x"], capacity: 0 });
  m = await scrape();
  assert.equal(valueOf(m, "edgeflow_queue_unserved", "edgeflow_queue_unserved", extract), 1);
  await call("POST", "/heartbeat", {
    worker: "w2",
    pool: "default",
    handlers: ["etl.extract"],
    capacity: 0,
  });
  m = await scrape();
  assert.equal(valueOf(m, "edgeflow_queue_unserved", "edgeflow_queue_unserved", extract), 0);

  // Two minutes on and still not started: both runs are late.
  await advanceClock(db.sql, 121);
  m = await scrape();
  assert.equal(
    valueOf(m, "edgeflow_runs_late", "edgeflow_runs_late", { deployment: "nightly" }),
    1,
  );
  assert.equal(valueOf(m, "edgeflow_runs_late", "edgeflow_runs_late", { deployment: "" }), 1);
});
