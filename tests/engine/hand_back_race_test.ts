/**
 * edgeflow.hand_back_claims against a claim still in flight (Postgres: two
 * connections). A worker hands back one task of a map step while another
 * worker's claim of a sibling has not committed. The step must stay RUNNING,
 * since the sibling runs; before migration 0282 the hand-back could not see
 * the uncommitted claim and put the step back to QUEUED, and the sibling's
 * completion then logged RUNNING → COMPLETED for a step that was QUEUED.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { dbTest } from "../support/db.ts";
import { flowDef, started } from "../support/flows.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { claimTasks, completeTask, handBackClaims } from "../../shared/engine/tasks.ts";
import type { Sql } from "../../shared/db/sql.ts";

async function stepOf(sql: Sql, runId: string, slug: string) {
  const [s] = await sql<{ status: string; started: boolean }>`
    select status, started_at is not null as started from edgeflow.step_states
     where run_id = ${runId}::uuid and slug = ${slug}`;
  return s;
}

/** The step's events as moves, each checked to start where the last ended. */
async function stepStory(sql: Sql, runId: string, slug: string) {
  const events = await sql<{ from_status: string | null; to_status: string }>`
    select from_status, to_status from edgeflow.event_log
     where run_id = ${runId}::uuid and kind = 'step' and step = ${slug} order by id`;
  for (let i = 1; i < events.length; i++) {
    assert.equal(
      events[i].from_status,
      events[i - 1].to_status,
      `step ${slug}: event ${i} starts where event ${i - 1} ended`,
    );
  }
  return events.map((e) => `${e.from_status ?? "∅"}→${e.to_status}`);
}

dbTest(
  "a hand-back waits for a sibling's claim in flight and leaves the step RUNNING",
  async (db) => {
    const v = await registerFlow(
      db.sql,
      flowDef("handback", [{ slug: "a" }, { slug: "m", depends_on: ["a"], map: "a" }]),
    );
    const run = await started(db.sql, v.id);
    const [a] = await claimTasks(db.sql, "default", null, 1);
    assert.ok("ok" in await completeTask(db.sql, a.task, a.lease, [1, 2]));
    // Worker 1 holds the first of the map's two tasks.
    const [first] = await claimTasks(db.sql, "default", null, 1);
    assert.equal(first.step, "m");
    assert.equal((await stepOf(db.sql, run, "m")).status, "RUNNING");

    // Worker 2's claim of the second task, left uncommitted.
    const other = postgresSql(db.url!);
    const watcher = postgres(db.url!, { max: 1, onnotice: () => {} });
    let commit = () => {};
    try {
      const gate = new Promise<void>((r) => (commit = r));
      let claimed!: (t: { task: string; lease: string }) => void;
      const inFlight = new Promise<{ task: string; lease: string }>((r) => (claimed = r));
      const claimTx = other.begin(async (tx) => {
        const [t] = await claimTasks(tx, "default", null, 1);
        claimed(t);
        await gate;
        return t;
      });
      const second = await inFlight;
      assert.ok(second, "the second task was claimed");
      assert.notEqual(second.task, first.task);

      // Worker 1 hands its task back meanwhile. It must wait for the claim.
      let handedBack = false;
      const handBack = handBackClaims(db.sql, [{ task: first.task, lease: first.lease }])
        .then((n) => {
          handedBack = true;
          return n;
        });
      let waiting = false;
      for (let i = 0; i < 500 && !handedBack && !waiting; i++) {
        const [w] = await watcher<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'
             and query like '%hand_back_claims%'`;
        waiting = w.n > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 10));
      }
      const waited = waiting && !handedBack;
      commit();
      await claimTx;
      assert.equal(await handBack, 1);

      // The second task runs, so its step does.
      const m = await stepOf(db.sql, run, "m");
      assert.deepEqual(m, { status: "RUNNING", started: true });
      assert.ok(waited, "the hand-back waited for the claim in flight");
      assert.ok("ok" in await completeTask(db.sql, second.task, second.lease, "two"));
      const [again] = await claimTasks(db.sql, "default", null, 1);
      assert.equal(again.task, first.task, "the handed-back task is claimed again");
      assert.ok("ok" in await completeTask(db.sql, again.task, again.lease, "one"));
      assert.deepEqual(await stepOf(db.sql, run, "m"), { status: "COMPLETED", started: true });
      assert.deepEqual(await stepStory(db.sql, run, "m"), [
        "PENDING→QUEUED",
        "QUEUED→RUNNING",
        "RUNNING→COMPLETED",
      ]);
    } finally {
      commit();
      await other.end();
      await watcher.end();
    }
  },
  { only: "postgres" },
);

dbTest(
  "a hand-back of a step's only started task puts the step back to QUEUED",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("handback1", [{ slug: "a" }, { slug: "m", depends_on: ["a"], map: "a" }]),
    );
    const run = await started(sql, v.id);
    const [a] = await claimTasks(sql, "default", null, 1);
    assert.ok("ok" in await completeTask(sql, a.task, a.lease, [1, 2]));
    const [first] = await claimTasks(sql, "default", null, 1);
    assert.equal(await handBackClaims(sql, [{ task: first.task, lease: first.lease }]), 1);
    assert.deepEqual(await stepOf(sql, run, "m"), { status: "QUEUED", started: false });
    for (const t of await claimTasks(sql, "default", null, 10)) {
      assert.ok("ok" in await completeTask(sql, t.task, t.lease, t.task));
    }
    assert.deepEqual(await stepStory(sql, run, "m"), [
      "PENDING→QUEUED",
      "QUEUED→RUNNING",
      "RUNNING→QUEUED",
      "QUEUED→RUNNING",
      "RUNNING→COMPLETED",
    ]);
  },
);
