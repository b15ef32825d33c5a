/**
 * Late and stuck (issue 15): a run not started EDGEFLOW_LATE_SECONDS after
 * its scheduled time (its creation for a trigger) is flagged late by the
 * tick, once, with a `LATE` run event, in GET /trigger/runs, the run
 * document and the dashboard; a queue with work and no online worker for its
 * handler shows a warning on the runs list and the workers page. Time moves
 * with the engine's clock, never by sleeping.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { registerSteps } from "../limits/helpers.ts";
import { advanceClock } from "../support/clock.ts";

dbTest(
  "a run not started in time is flagged late once by the tick; started, it is not late",
  async (db) => {
    const { call } = testApp(db, { lateSeconds: 120 });
    await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
    await call("POST", "/deploy", { name: "nightly", flow: "etl" });
    const late = (await call("POST", "/trigger/nightly", {})).body.run_id;
    const soon = (await call("POST", "/trigger/flows/etl", {})).body.run_id;
    // Scheduled five minutes ahead (as a schedule starts it): not late before its time has come.
    const [{ r: scheduled }] = await db.sql<{ r: { run_id: string; status: string } }>`
    select edgeflow.start_run(v.id, '{}',
             jsonb_build_object('scheduled_time', edgeflow.now() + interval '5 minutes')) as r
      from edgeflow.flow_versions v where v.flow_name = 'etl'`;
    assert.equal(scheduled.status, "SCHEDULED");

    const tick = async () => {
      const res = await call("POST", "/trigger/tick");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.late as number;
    };
    const isLate = async (id: string) => (await call("GET", `/trigger/runs/${id}`)).body.late;
    assert.equal(await tick(), 0);
    assert.equal(await isLate(late), false);

    // One minute on: under the 120 s; then the first run is started by a worker.
    await advanceClock(db.sql, 60);
    assert.equal(await tick(), 0);
    const beat = await call("POST", "/heartbeat", {
      worker: "w1",
      pool: "default",
      capacity: 1,
      running: [],
    });
    assert.equal(beat.body.tasks.length, 1);
    const startedRun = beat.body.tasks[0].run_id;
    const waiting = startedRun === late ? soon : late;

    // 121 s after creation: the run still waiting is late, the started one is not.
    await advanceClock(db.sql, 61);
    assert.equal(await tick(), 1);
    assert.equal(await tick(), 0, "flagged once");
    const doc = (await call("GET", `/trigger/runs/${waiting}`)).body;
    assert.equal(doc.late, true);
    assert.equal(doc.status, "PENDING", "late is a flag, not a state change");
    assert.match(doc.late_at, /^\d{4}-/);
    assert.equal(await isLate(startedRun), false);
    assert.equal(await isLate(scheduled.run_id), false);

    const events = (await call("GET", `/trigger/runs/${waiting}/events`)).body.events;
    const lateEvents = events.filter((e: { to: string }) => e.to === "LATE");
    assert.equal(lateEvents.length, 1);
    assert.equal(lateEvents[0].kind, "run");
    assert.equal(lateEvents[0].from, "PENDING");

    const list = (await call("GET", "/trigger/runs")).body.runs as { id: string; late: boolean }[];
    assert.deepEqual(
      list.filter((r) => r.late).map((r) => r.id),
      [waiting],
    );

    // The scheduled run, 121 s past its time (426 s on), is late as well; then a
    // worker starts it and the flag goes out of the lists (late_at stays).
    await advanceClock(db.sql, 305);
    assert.equal(await tick(), 1);
    assert.equal(await isLate(scheduled.run_id), true);
    const more = await call("POST", "/heartbeat", {
      worker: "w1",
      pool: "default",
      capacity: 2,
      running: [],
    });
    assert.equal(more.status, 200);
    const after = (await call("GET", `/trigger/runs/${waiting}`)).body;
    assert.equal(after.status, "RUNNING");
    assert.equal(after.late, false);
    assert.ok(after.late_at, "when it was late is kept");
  },
);

dbTest("the SQL tick flags late runs too (default 60 s)", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
  const id = (await call("POST", "/trigger/flows/etl", {})).body.run_id;
  await advanceClock(db.sql, 61);
  const [{ r }] = await db.sql<{ r: { late: number } }>`select edgeflow.tick() as r`;
  assert.equal(r.late, 1);
  assert.equal((await call("GET", `/trigger/runs/${id}`)).body.late, true);
});

dbTest("a run triggered after the clock moved is as old as the moved clock says", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
  const now = await advanceClock(db.sql, 3600);
  const id = (await call("POST", "/trigger/flows/etl", {})).body.run_id;
  const doc = (await call("GET", `/trigger/runs/${id}`)).body;
  assert.ok(Date.parse(doc.created_at) >= now.getTime(), `${doc.created_at} before ${now}`);
  const [{ r }] = await db.sql<{ r: { late: number } }>`select edgeflow.tick() as r`;
  assert.equal(r.late, 0, "not late the moment it was made");
  await advanceClock(db.sql, 61);
  const [{ r: later }] = await db.sql<{ r: { late: number } }>`select edgeflow.tick() as r`;
  assert.equal(later.late, 1);
});

dbTest("the dashboard marks late runs and warns of queues no online worker serves", async (db) => {
  const { app, call } = testApp(db, { lateSeconds: 30 });
  await registerSteps(call, "etl", [{ slug: "extract", handler: "etl.extract" }]);
  const id = (await call("POST", "/trigger/flows/etl", {})).body.run_id;
  const cookie = await sessionCookie(app, ADMIN_KEY);
  const page = async (path: string) => {
    const res = await app.request(path, { headers: { cookie } });
    assert.equal(res.status, 200, path);
    return await res.text();
  };
  let runs = await page("/ui/runs");
  assert.doesNotMatch(runs, /data-late="true"/);
  assert.match(runs, /id="stuck-queues"/);
  assert.match(
    runs,
    /data-pool="default" data-handler="etl.extract"><b>1<\/b> task of handler <code>etl.extract<\/code>/,
  );
  assert.match(await page("/ui/workers"), /id="stuck-queues"/);

  // A worker naming another handler does not serve it; one naming it ends the warning.
  await call("POST", "/heartbeat", { worker: "w1", pool: "default", handlers: ["x"], capacity: 0 });
  assert.match(await page("/ui/runs"), /id="stuck-queues"/);
  await call("POST", "/heartbeat", {
    worker: "w2",
    pool: "default",
    handlers: ["etl.extract"],
    capacity: 0,
  });
  assert.doesNotMatch(await page("/ui/runs"), /id="stuck-queues"/);
  assert.doesNotMatch(await page("/ui/workers"), /id="stuck-queues"/);

  // (A worker's first heartbeat is stamped by the column default now(), not the moved clock:
  // the late part comes after them.)
  await advanceClock(db.sql, 31);
  await call("POST", "/trigger/tick");
  runs = await page("/ui/runs");
  assert.match(runs, new RegExp(`data-run="${id}"[\\s\\S]*?data-late="true"`));
  assert.match(await page(`/ui/runs/${id}`), /data-late="true"/);
});
