/**
 * The worker registry, fencing and cancellation, through HTTP only: what a
 * worker written in any language sees.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { deploy, registerSteps, trigger } from "./helpers.ts";

dbTest("GET /heartbeat/workers: ONLINE, then OFFLINE after 3 missed intervals", async (db) => {
  const { call } = testApp(db, { heartbeatSeconds: 10 });
  const beat = (worker: string) =>
    call("POST", "/heartbeat", {
      worker,
      pool: "default",
      handlers: ["a.b", "c"],
      capacity: 0,
      running: [],
    });
  assert.equal((await beat("alive")).status, 200);
  assert.equal((await beat("gone")).status, 200);
  const before = (await call("GET", "/heartbeat/workers")).body.workers;
  assert.deepEqual(before.map((w: { status: string }) => w.status), ["ONLINE", "ONLINE"]);
  const gone = before.find((w: { name: string }) => w.name === "gone");
  assert.deepEqual(gone.handlers, ["a.b", "c"]);
  assert.equal(gone.pool, "default");
  assert.ok(gone.first_heartbeat_at <= gone.last_heartbeat_at);

  // 31 s of silence is more than 3 intervals of 10 s.
  await db.sql`update edgeflow.workers
                  set last_heartbeat_at = now() - interval '31 seconds',
                      first_heartbeat_at = now() - interval '1 minute' where name = 'gone'`;
  await db.sql`update edgeflow.workers set last_heartbeat_at = now() - interval '29 seconds'
                where name = 'alive'`;
  const after = (await call("GET", "/heartbeat/workers")).body.workers;
  const status = Object.fromEntries(
    after.map((w: { name: string; status: string }) => [w.name, w.status]),
  );
  assert.deepEqual(status, { alive: "ONLINE", gone: "OFFLINE" });

  // One heartbeat brings it back, keeping its first heartbeat.
  await beat("gone");
  const back = (await call("GET", "/heartbeat/workers")).body.workers
    .find((w: { name: string }) => w.name === "gone");
  assert.equal(back.status, "ONLINE");
  const silent = after.find((w: { name: string }) => w.name === "gone");
  assert.equal(back.first_heartbeat_at, silent.first_heartbeat_at);
  assert.ok(back.first_heartbeat_at < back.last_heartbeat_at);
});

dbTest(
  "a stale lease gets 409 stale_lease on complete and fail, and nothing changes",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "fence", [{ slug: "s" }]);
    await deploy(call, { name: "fence", flow: "fence" });
    const { run_id } = await trigger(call, "fence");
    const hb = await call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      capacity: 1,
      running: [],
    });
    const [t] = hb.body.tasks;
    const forged = "00000000-0000-4000-8000-000000000000";
    for (const path of ["complete", "fail"]) {
      const res = await call("POST", `/heartbeat/tasks/${t.task}/${path}`, {
        lease: forged,
        output: 1,
        error: { message: "x" },
      });
      assert.equal(res.status, 409, path);
      assert.equal(res.body.code, "stale_lease");
    }
    const kept = await call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      capacity: 0,
      running: [{ task: t.task, lease: t.lease }, { task: t.task, lease: forged }],
    });
    assert.deepEqual(kept.body.lost, [t.task], "the forged lease is lost, the real one kept");
    const run = (await call("GET", `/trigger/runs/${run_id}`)).body;
    assert.equal(run.status, "RUNNING");
    assert.equal(run.steps[0].attempts, 1);
    const ok = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
      lease: t.lease,
      output: 2,
    });
    assert.equal(ok.status, 200);
    const again = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
      lease: t.lease,
      output: 3,
    });
    assert.equal(again.status, 409, "the same completion twice: the second is refused");
    assert.deepEqual((await call("GET", `/trigger/runs/${run_id}`)).body.output, { s: 2 });
  },
);

dbTest(
  "cancel through HTTP: CANCELLING, queued work removed, workers told, late result refused",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "cancel-me", [{ slug: "a" }, { slug: "b" }, {
      slug: "c",
      depends_on: ["a"],
    }]);
    await deploy(call, { name: "cancel-me", flow: "cancel-me" });
    const { run_id } = await trigger(call, "cancel-me");
    const hb = await call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      handlers: ["a"],
      capacity: 5,
      running: [],
    });
    const [a] = hb.body.tasks;
    assert.equal(a.step, "a");

    const cancelled = await call("POST", `/trigger/runs/${run_id}/cancel`);
    assert.equal(cancelled.status, 202);
    assert.equal(cancelled.body.status, "CANCELLING");
    const doc = (await call("GET", `/trigger/runs/${run_id}`)).body;
    assert.deepEqual(doc.steps.map((s: { status: string }) => s.status), [
      "RUNNING",
      "CANCELLED",
      "CANCELLED",
    ]);
    const other = await call("POST", "/heartbeat", {
      worker: "w2",
      pool: "default",
      capacity: 5,
      running: [],
    });
    assert.deepEqual(other.body.tasks, [], "b was removed from the queue at once");

    const next = await call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      capacity: 0,
      running: [{ task: a.task, lease: a.lease }],
    });
    assert.deepEqual(next.body.cancel, [a.task], "the worker learns on its next heartbeat");
    const late = await call("POST", `/heartbeat/tasks/${a.task}/complete`, {
      lease: a.lease,
      output: 1,
    });
    assert.equal(late.status, 409);
    assert.equal((await call("GET", `/trigger/runs/${run_id}`)).body.status, "CANCELLED");
    assert.equal((await call("POST", `/trigger/runs/${run_id}/cancel`)).body.changed, false);
    assert.equal(
      (await call("POST", "/trigger/runs/00000000-0000-4000-8000-000000000000/cancel")).status,
      404,
    );
    assert.equal((await call("POST", "/trigger/runs/not-a-uuid/cancel")).status < 500, true);
  },
);
