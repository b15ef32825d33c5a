/**
 * The events' partition key (the run's creation time) travels on the task and
 * step rows (migration 0257), so the event triggers need not look the run up
 * for every event: every writer of tasks and step_states fills it in, and a
 * row that has none (written before 0257) still gets its events into the
 * run's day through the lookup.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { dbTest } from "../support/db.ts";
import { flowDef, started } from "../support/flows.ts";
import { advanceClock } from "../support/clock.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { getRun } from "../../shared/engine/runs.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { completeTasks } from "../../shared/engine/batch.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { testApp } from "../support/app.ts";
import { run, setupChild, startMain } from "../subflows/helpers.ts";

const flow = flowDef("keyed", [
  { slug: "split" },
  { slug: "square", depends_on: ["split"], map: "split" },
  { slug: "sum", depends_on: ["square"] },
  { slug: "last", depends_on: ["sum"] },
]);

/** Rows of tasks, step_states and events whose run_created_at is not their run's created_at. */
async function mismatches(sql: Sql) {
  const [row] = await sql<{ tasks: number; steps: number; events: number; rows: number }>`
    select (select count(*)::int from edgeflow.tasks t join edgeflow.runs r on r.id = t.run_id
             where t.run_created_at is distinct from r.created_at) as tasks,
           (select count(*)::int from edgeflow.step_states s join edgeflow.runs r on r.id = s.run_id
             where s.run_created_at is distinct from r.created_at) as steps,
           (select count(*)::int from edgeflow.events e join edgeflow.runs r on r.id = e.run_id
             where e.run_created_at is distinct from r.created_at) as events,
           (select count(*)::int from edgeflow.tasks) as rows`;
  return row;
}

dbTest(
  "every task and step row carries its run's creation time, and so do its events",
  async ({ sql }) => {
    const v = await registerFlow(sql, flow);
    // Runs created at different engine times: a wrong key would not match by luck.
    const first = await started(sql, v.id);
    await advanceClock(sql, 3600);
    const second = await started(sql, v.id);
    for (let round = 0; round < 4; round++) {
      const claimed = await claimTasks(sql, "default", null, 20);
      assert.ok(claimed.length > 0, `round ${round} claimed nothing`);
      const output = (step: string) => (step === "split" ? [1, 2, 3] : step);
      if (round % 2 === 0) {
        // The set-based completion (and its fast path for plain dependents)...
        const outcomes = await completeTasks(
          sql,
          claimed.map((t) => ({ task: t.task, lease: t.lease, output: output(t.step) })),
        );
        assert.ok(outcomes.every((o) => "ok" in o), JSON.stringify(outcomes));
      } else {
        // ...and the single one (dependents through _start_steps).
        for (const t of claimed) {
          assert.ok("ok" in await completeTask(sql, t.task, t.lease, output(t.step)));
        }
      }
    }
    for (const id of [first, second]) assert.equal((await getRun(sql, id))?.status, "COMPLETED");
    const m = await mismatches(sql);
    assert.equal(m.rows, 2 * (1 + 3 + 1 + 1));
    assert.deepEqual({ tasks: m.tasks, steps: m.steps, events: m.events }, {
      tasks: 0,
      steps: 0,
      events: 0,
    });
  },
);

dbTest(
  "a row without the key (written before 0257) still gets its events into its run's day",
  async ({ sql }) => {
    const v = await registerFlow(sql, flowDef("one", [{ slug: "a" }]));
    const id = await started(sql, v.id);
    await sql`update edgeflow.tasks set run_created_at = null where run_id = ${id}::uuid`;
    await sql`update edgeflow.step_states set run_created_at = null where run_id = ${id}::uuid`;
    const [t] = await claimTasks(sql, "default", null, 1);
    assert.ok("ok" in await completeTask(sql, t.task, t.lease, 1));
    assert.equal((await getRun(sql, id))?.status, "COMPLETED");
    const [row] = await sql<{ events: number; wrong: number }>`
    select count(*)::int as events,
           count(*) filter (where e.run_created_at is distinct from r.created_at)::int as wrong
      from edgeflow.event_log e join edgeflow.runs r on r.id = e.run_id
     where e.run_id = ${id}::uuid and e.kind in ('task', 'step')`;
    assert.ok(row.events >= 4, `only ${row.events} task and step events`);
    assert.equal(row.wrong, 0);
  },
);

dbTest("a subflow step's task and its child run's rows carry the key too", async (db) => {
  const { call } = testApp(db);
  await setupChild(call);
  const id = await startMain(call, {
    name: "main",
    steps: [{ slug: "fetch" }, { slug: "process", deployment: "child-dep", depends_on: ["fetch"] }],
  });
  const [fetch] = await claimTasks(db.sql, "main", null, 5);
  assert.ok("ok" in await completeTask(db.sql, fetch.task, fetch.lease, { rows: 3 }));
  const [work] = await claimTasks(db.sql, "isolated", null, 5);
  assert.ok("ok" in await completeTask(db.sql, work.task, work.lease, { total: 42 }));
  assert.equal((await run(call, id)).status, "COMPLETED");
  const m = await mismatches(db.sql);
  assert.equal(m.rows, 3, "fetch, the subflow task, the child's task");
  assert.deepEqual({ tasks: m.tasks, steps: m.steps, events: m.events }, {
    tasks: 0,
    steps: 0,
    events: 0,
  });
});

dbTest(
  "with edgeflow.notify_events on, the triggers still NOTIFY each run whose task, step or run changed",
  async (db) => {
    const v = await registerFlow(
      db.sql,
      flowDef("told", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]),
    );
    const got: string[] = [];
    const listener = postgres(db.url!, { max: 1, onnotice: () => {} });
    try {
      await listener.listen("edgeflow_events", (payload) => got.push(payload));
      const id = await db.sql.begin(async (tx) => {
        await tx`select set_config('edgeflow.notify_events', 'on', true)`;
        return await started(tx, v.id);
      });
      // One transaction per transition, each with the setting on.
      for (const step of ["a", "b"]) {
        await db.sql.begin(async (tx) => {
          await tx`select set_config('edgeflow.notify_events', 'on', true)`;
          const [t] = await claimTasks(tx, "default", null, 1);
          assert.equal(t.step, step);
          const [outcome] = await completeTasks(tx, [{
            task: t.task,
            lease: t.lease,
            output: step,
          }]);
          assert.ok("ok" in outcome);
        });
      }
      // Three transactions, each notifying the run (Postgres folds one transaction's duplicates).
      const deadline = Date.now() + 5000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, [id, id, id]);
      // A transaction without the setting notifies nothing.
      const other = await started(db.sql, v.id);
      await db.sql`select pg_notify('edgeflow_events', 'marker')`;
      const until = Date.now() + 5000;
      while (!got.includes("marker") && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(!got.includes(other), "a run started with the setting off was notified");
    } finally {
      await listener.end();
    }
  },
  { only: "postgres" },
);
