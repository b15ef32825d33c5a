/**
 * Retention (issue 15): the tick deletes finished runs past their retention
 * (EDGEFLOW_RETENTION_DAYS, a deployment's `retention_days`) in bounded
 * batches, never an unfinished run or a child whose parent still runs (the
 * other guard, a finished parent of a running child, is a state the engine
 * leaves at once by cancelling orphans); events go when no run of their day is left,
 * by dropping the day's partition. Time passes by moving the engine's clock.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { advanceClock } from "../support/clock.ts";
import { deploy, registerSteps } from "../limits/helpers.ts";
import type { Sql } from "../../shared/db/sql.ts";

const DAY = 86_400;

async function adHoc(call: TestApp["call"], flow: string): Promise<string> {
  const res = await call("POST", `/trigger/flows/${flow}`, {});
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.run_id;
}

/** Claim and complete every ready task of `runs` (one step each). */
async function finish(call: TestApp["call"], runs: string[]) {
  const beat = await call("POST", "/heartbeat", {
    worker: "w1",
    pool: "default",
    capacity: 100,
  });
  assert.equal(beat.status, 200, JSON.stringify(beat.body));
  const mine = beat.body.tasks.filter((t: { run_id: string }) => runs.includes(t.run_id));
  assert.equal(mine.length, runs.length);
  for (const t of mine) {
    const done = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
      lease: t.lease,
      output: { ok: true },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  }
  return beat.body.tasks as { task: string; run_id: string }[];
}

async function tick(call: TestApp["call"]) {
  const res = await call("POST", "/trigger/tick");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { pruned_runs: number; partitions_dropped: number };
}

async function present(sql: Sql, ids: string[]): Promise<string[]> {
  const rows = await sql<
    { id: string }
  >`select id from edgeflow.runs where id = any(${ids}::uuid[])`;
  return ids.filter((id) => rows.some((r) => r.id === id));
}

async function counts(sql: Sql, id: string) {
  const [c] = await sql<{ tasks: number; steps: number; events: number }>`
    select (select count(*)::int from edgeflow.tasks where run_id = ${id}::uuid) as tasks,
           (select count(*)::int from edgeflow.step_states where run_id = ${id}::uuid) as steps,
           (select count(*)::int from edgeflow.events where run_id = ${id}::uuid) as events`;
  return c;
}

/** The day partitions of edgeflow.events that exist. */
async function partitions(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    select c.relname as name from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'edgeflow.events'::regclass and c.relname ~ '_p[0-9]{8}$'
     order by 1`;
  return rows.map((r) => r.name);
}

dbTest(
  "finished runs go after their retention; unfinished runs and longer retention stay; a day's events go by partition",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [{ slug: "only" }]);
    await deploy(call, { name: "keep", flow: "etl", retention_days: 90 });

    const done = await adHoc(call, "etl");
    const kept = (await call("POST", "/trigger/keep", {})).body.run_id as string;
    await finish(call, [done, kept]);
    const open = await adHoc(call, "etl");
    const before = await counts(db.sql, done);
    assert.ok(
      before.tasks === 1 && before.steps === 1 && before.events >= 5,
      JSON.stringify(before),
    );

    // 29 days on: nothing is old enough.
    await advanceClock(db.sql, 29 * DAY);
    assert.equal((await tick(call)).pruned_runs, 0);

    // 31 days: the finished ad hoc run goes with its steps and tasks. Its events stay in
    // their day's partition while other runs of that day are kept (no row-by-row delete),
    // unreachable: the run is gone.
    await advanceClock(db.sql, 2 * DAY);
    const first = await tick(call);
    assert.equal(first.pruned_runs, 1);
    assert.deepEqual(await present(db.sql, [done, open, kept]), [open, kept]);
    assert.deepEqual(await counts(db.sql, done), { tasks: 0, steps: 0, events: before.events });
    assert.equal((await call("GET", `/trigger/runs/${done}`)).status, 404);
    assert.equal((await call("GET", `/trigger/runs/${done}/events`)).status, 404);
    // Empty days that have passed are dropped; the day of the kept runs is not.
    const [{ day }] = await db.sql<{ day: string }>`
      select 'events_p' || to_char(created_at at time zone 'UTC', 'YYYYMMDD') as day
        from edgeflow.runs where id = ${kept}::uuid`;
    assert.ok((await partitions(db.sql)).includes(day));
    const events = await call("GET", `/trigger/runs/${open}/events`);
    assert.equal(events.status, 200);
    assert.ok(events.body.events.length >= 1);

    // The open run is cancelled now: 31 days later it goes; the deployment's run (90 days) stays.
    await call("POST", `/trigger/runs/${open}/cancel`);
    await advanceClock(db.sql, 31 * DAY);
    assert.equal((await tick(call)).pruned_runs, 1);
    assert.deepEqual(await present(db.sql, [open, kept]), [kept]);
    assert.ok((await counts(db.sql, kept)).events >= 5);

    // 93 days after it ended the deployment's run goes too, and with the last run of its day
    // gone, the day's partition is dropped rather than emptied row by row.
    assert.ok((await partitions(db.sql)).includes(day));
    await advanceClock(db.sql, 31 * DAY);
    const last = await tick(call);
    assert.equal(last.pruned_runs, 1);
    assert.deepEqual(await present(db.sql, [kept]), []);
    assert.ok(last.partitions_dropped >= 1, JSON.stringify(last));
    assert.ok(!(await partitions(db.sql)).includes(day));
    const [{ left }] = await db.sql<
      { left: number }
    >`select count(*)::int as left from edgeflow.events`;
    assert.equal(left, 0);
  },
);

dbTest("a tick prunes at most its batch; a child is kept while its parent runs", async (db) => {
  const { call } = testApp(db, { pruneBatch: 2 });
  await registerSteps(call, "etl", [{ slug: "only" }]);
  await deploy(call, { name: "child", flow: "etl" });
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await adHoc(call, "etl"));
  const parent = await adHoc(call, "etl");
  // The parent's task is claimed with the others but not finished: its run goes on.
  const parentTask = (await finish(call, runs)).find((t) => t.run_id === parent)!;
  assert.ok(parentTask);
  const child = (await call("POST", "/trigger/child", { parent_task: parentTask.task })).body
    .run_id as string;
  await call("POST", `/trigger/runs/${child}/cancel`);

  await advanceClock(db.sql, 31 * DAY);
  assert.equal((await tick(call)).pruned_runs, 2);
  assert.equal((await tick(call)).pruned_runs, 2);
  assert.equal((await tick(call)).pruned_runs, 1);
  assert.equal((await tick(call)).pruned_runs, 0);
  assert.deepEqual(await present(db.sql, [parent, child]), [parent, child]);
});

dbTest(
  "events find their day partition; a day without one is caught and moved by the tick",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [{ slug: "only" }]);
    const today = await partitions(db.sql);
    assert.ok(today.length >= 3, JSON.stringify(today)); // yesterday, today and the days ahead
    // Today without a partition (as when no tick ran for days): events wait in the DEFAULT one.
    const [{ day }] = await db.sql<{ day: string }>`
    select 'events_p' || to_char(now() at time zone 'UTC', 'YYYYMMDD') as day`;
    assert.ok(today.includes(day));
    await db.sql.exec(`drop table edgeflow.${day}`);
    const run = await adHoc(call, "etl");
    await call("POST", `/trigger/runs/${run}/cancel`);
    const [{ waiting }] = await db.sql<{ waiting: number }>`
    select count(*)::int as waiting from edgeflow.events_default where run_id = ${run}::uuid`;
    assert.ok(waiting >= 2);
    await tick(call);
    assert.ok((await partitions(db.sql)).includes(day));
    const [{ stray }] = await db.sql<{ stray: number }>`
    select count(*)::int as stray from edgeflow.events_default`;
    assert.equal(stray, 0);
    const events = await call("GET", `/trigger/runs/${run}/events`);
    assert.equal(events.body.events.at(-1).to, "CANCELLED");
  },
);

dbTest("retention_days is part of the deployment; below 1 is refused with its path", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "etl", [{ slug: "only" }]);
  const bad = await call("POST", "/deploy", { name: "d", flow: "etl", retention_days: 0 });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, "retention_days");
  const ok = await call("POST", "/deploy", { name: "d", flow: "etl", retention_days: 7 });
  assert.equal(ok.body.retention_days, 7);
  const shown = await call("GET", "/deploy/deployments/d");
  assert.equal(shown.body.retention_days, 7);
});
