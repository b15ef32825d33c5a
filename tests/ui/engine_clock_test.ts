/**
 * The dashboard measures what is still going on to the engine's clock
 * (edgeflow.now()), not to the server's: after a test moves the clock an hour,
 * a running run has run an hour and a worker last seen before has been silent
 * an hour. Slots and QStash delivery records are stamped by the same clock.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { ETL } from "./support.ts";

dbTest("a running run's duration and a worker's silence follow the engine's clock", async (db) => {
  const t = testApp(db);
  assert.equal((await t.call("POST", "/register", ETL)).status, 201);
  assert.equal((await t.call("POST", "/deploy", { name: "etl-now", flow: "etl" })).status, 201);
  const run = await t.call("POST", "/trigger/etl-now", { parameters: { day: "d1" } });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  const hb = await t.call("POST", "/heartbeat", { worker: "w-now", pool: "default", capacity: 1 });
  assert.equal(hb.body.tasks.length, 1, "the first step is claimed: the run is RUNNING");

  await testClock(db.sql).advance(3600 + 5 * 60);
  const cookie = await sessionCookie(t.app, ADMIN_KEY);
  const page = async (path: string) => {
    const res = await t.app.request(path, { headers: { cookie } });
    assert.equal(res.status, 200, path);
    return await res.text();
  };
  // 1 h 5 min: the clock moved 65 minutes after the run started (seconds ago).
  const list = await page("/ui/runs");
  assert.match(list, /<td>1 h 5 min<\/td>/, "the runs list measures to the engine's clock");
  const detail = await page(`/ui/runs/${run.body.run_id}`);
  assert.match(detail, /took<\/span> 1 h 5 min/, "the run page too");
  const workers = await page("/ui/workers");
  assert.match(workers, /65 min ago/, "the worker was last seen 65 minutes ago by the engine");
});

dbTest("a QStash delivery record is stamped by the engine's clock and pruned by it", async (db) => {
  const t = testApp(db);
  assert.equal((await t.call("POST", "/register", ETL)).status, 201);
  const dep = await t.call("POST", "/deploy", {
    name: "etl-q",
    flow: "etl",
    parameters: { day: "d1" },
    schedules: [{ cron: "0 * * * *" }],
  });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  const schedule = dep.body.schedules[0].id as string;
  const clock = testClock(db.sql);
  await clock.advance(40 * 86400);
  await db.sql`select edgeflow.fire_schedule_at(${schedule}::uuid, edgeflow.now(), 'msg-1')`;
  const [row] = await db.sql<{ late: boolean }>`
    select received_at > now() + interval '39 days' as late
      from edgeflow.qstash_deliveries where message_id = 'msg-1'`;
  assert.equal(row.late, true, "received at the engine's time, 40 days ahead of the wall clock");
  const [kept] = await db.sql<{ n: number }>`select edgeflow.prune_qstash_deliveries() as n`;
  assert.equal(kept.n, 0, "a delivery of a moment ago is kept");
  await clock.advance(31 * 86400);
  const [gone] = await db.sql<{ n: number }>`select edgeflow.prune_qstash_deliveries() as n`;
  assert.equal(gone.n, 1, "31 days on it is pruned");
});
