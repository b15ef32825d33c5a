/**
 * Retention of log lines (issue 15): task_logs is partitioned by its run's
 * creation day like the events, so lines go with their day's partition once
 * retention has deleted every run of that day (edgeflow.maintain_partitions),
 * never while one of them is unfinished or kept. Time passes by moving the
 * engine's clock.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { advanceClock } from "../support/clock.ts";
import { registerSteps } from "../limits/helpers.ts";
import type { Sql } from "../../shared/db/sql.ts";

const DAY = 86_400;

/** The day partitions of edgeflow.task_logs that exist. */
async function logPartitions(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    select c.relname as name from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'edgeflow.task_logs'::regclass and c.relname ~ '_p[0-9]{8}$'
     order by 1`;
  return rows.map((r) => r.name);
}

async function lineCount(sql: Sql, run?: string): Promise<number> {
  const [{ n }] = run
    ? await sql<{ n: number }>`
        select count(*)::int as n from edgeflow.task_logs where run_id = ${run}::uuid`
    : await sql<{ n: number }>`select count(*)::int as n from edgeflow.task_logs`;
  return n;
}

async function tick(call: TestApp["call"]) {
  const res = await call("POST", "/trigger/tick");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { pruned_runs: number; partitions_dropped: number };
}

dbTest(
  "log lines go with their day's partition once no run of the day is left, never before",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "etl", [{ slug: "only" }]);
    const done = (await call("POST", "/trigger/flows/etl", {})).body.run_id as string;
    const open = (await call("POST", "/trigger/flows/etl", {})).body.run_id as string;
    const beat = await call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 2 });
    assert.equal(beat.body.tasks.length, 2);
    for (const t of beat.body.tasks) {
      const sent = await call("POST", `/heartbeat/tasks/${t.task}/logs`, {
        lease: t.lease,
        lines: [{ level: "info", message: `hello from ${t.run_id}` }, {
          level: "warn",
          message: "second",
        }],
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
    }
    const doneTask = beat.body.tasks.find((t: { run_id: string }) => t.run_id === done);
    const openTask = beat.body.tasks.find((t: { run_id: string }) => t.run_id === open);
    await call("POST", `/heartbeat/tasks/${doneTask.task}/complete`, {
      lease: doneTask.lease,
      output: 1,
    });
    // The lines are in their run's day partition, not the DEFAULT one.
    const [{ day }] = await db.sql<{ day: string }>`
    select 'task_logs_p' || to_char(created_at at time zone 'UTC', 'YYYYMMDD') as day
      from edgeflow.runs where id = ${done}::uuid`;
    assert.ok((await logPartitions(db.sql)).includes(day));
    const where = await db.sql<{ part: string; n: number }>`
    select c.relname as part, count(*)::int as n
      from edgeflow.task_logs l join pg_catalog.pg_class c on c.oid = l.tableoid group by 1`;
    assert.deepEqual(where.map((w) => ({ ...w })), [{ part: day, n: 4 }]);

    // 31 days on: the finished run is deleted; the open one (still RUNNING, its lease
    // extended by heartbeats) keeps the day, so its lines and the day's partition stay.
    for (let i = 0; i < 31; i++) {
      await advanceClock(db.sql, DAY);
      await call("POST", "/heartbeat", {
        worker: "w1",
        pool: "default",
        capacity: 0,
        running: [{ task: openTask.task, lease: openTask.lease }],
      });
    }
    const first = await tick(call);
    assert.equal(first.pruned_runs, 1);
    assert.equal((await call("GET", `/trigger/runs/${done}/logs`)).status, 404);
    const openLogs = await call("GET", `/trigger/runs/${open}/logs`);
    assert.equal(openLogs.status, 200);
    assert.deepEqual(openLogs.body.logs.map((l: { message: string }) => l.message), [
      `hello from ${open}`,
      "second",
    ]);
    assert.ok((await logPartitions(db.sql)).includes(day));
    assert.equal(await lineCount(db.sql, open), 2);

    // The open run finishes; 31 days later it is deleted and the day's lines go by `drop`.
    const fin = await call("POST", `/heartbeat/tasks/${openTask.task}/complete`, {
      lease: openTask.lease,
      output: 1,
    });
    assert.equal(fin.status, 200, JSON.stringify(fin.body));
    await advanceClock(db.sql, 31 * DAY);
    const last = await tick(call);
    assert.equal(last.pruned_runs, 1);
    assert.ok(last.partitions_dropped >= 2, JSON.stringify(last)); // the events' day and the logs'
    assert.ok(!(await logPartitions(db.sql)).includes(day));
    assert.equal(await lineCount(db.sql), 0);
  },
);
