/**
 * The definition of done, on the real clock: a deployment with a
 * cron schedule in Asia/Kolkata gets its run from the tick ahead of time,
 * SCHEDULED and invisible to workers until its fire time, then claimable.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

dbTest(
  "an Asia/Kolkata cron run is created by the tick and becomes claimable on time",
  async (db) => {
    const { call } = testApp(db); // the real clock
    await call("POST", "/register", {
      name: "report",
      steps: [{ slug: "send", handler: "report.send" }],
    });
    // A fire time 4 seconds ahead, written as Kolkata wall time (UTC+05:30) in a 6-field cron.
    const fireAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const local = new Date(fireAt + 5.5 * 3600_000);
    const cron = `${local.getUTCSeconds()} ${local.getUTCMinutes()} ${local.getUTCHours()} * * *`;
    const d = await call("POST", "/deploy", {
      name: "kolkata-report",
      flow: "report",
      schedules: [{ cron, timezone: "Asia/Kolkata" }],
    });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.schedules[0].next_fire_at, new Date(fireAt).toISOString());

    const ticked = await call("POST", "/trigger/tick");
    assert.equal(ticked.body.created, 1);
    const [run] = (await call("GET", "/trigger/runs?deployment=kolkata-report")).body.runs;
    assert.equal(run.scheduled_time, new Date(fireAt).toISOString());
    assert.equal(run.status, "SCHEDULED");
    const hb = { worker: "w", pool: "default", capacity: 1, running: [] };
    assert.deepEqual(
      (await call("POST", "/heartbeat", hb)).body.tasks,
      [],
      "invisible before its time",
    );

    // pgmq delays are whole seconds, rounded up: claimable within a second of the fire time.
    await new Promise((r) => setTimeout(r, fireAt - Date.now() + 1100));
    const claimed = (await call("POST", "/heartbeat", hb)).body.tasks;
    assert.equal(claimed.length, 1);
    assert.equal(claimed[0].run_id, run.id);
    const done = await call("POST", `/heartbeat/tasks/${claimed[0].task}/complete`, {
      lease: claimed[0].lease,
      output: { sent: true },
    });
    assert.equal(done.status, 200);
    const final = await call("GET", `/trigger/runs/${run.id}`);
    assert.equal(final.body.status, "COMPLETED");
    assert.ok(Date.parse(final.body.started_at) >= fireAt, "started no earlier than its fire time");
  },
);
