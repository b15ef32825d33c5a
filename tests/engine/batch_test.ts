import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { flowDef, started } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { getRun } from "../../shared/engine/runs.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { completeTasks } from "../../shared/engine/batch.ts";

const chain = flowDef("chain", [
  { slug: "a" },
  { slug: "b", depends_on: ["a"] },
  { slug: "c", depends_on: ["b"] },
]);

dbTest(
  "a batch completion advances every run it touches, as single completions would",
  async ({ sql }) => {
    const v = await registerFlow(sql, chain);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await started(sql, v.id, { i }));

    for (const step of ["a", "b", "c"]) {
      const claimed = await claimTasks(sql, "default", null, 10);
      assert.deepEqual(claimed.map((t) => t.step), [step, step, step]);
      const outcomes = await completeTasks(
        sql,
        claimed.map((t) => ({ task: t.task, lease: t.lease, output: { step, i: t.input.run.i } })),
      );
      assert.deepEqual(outcomes.map((o) => "ok" in o && o.task), claimed.map((t) => t.task));
      const last = step === "c";
      for (const o of outcomes) {
        assert.ok("ok" in o && o.run_status === (last ? "COMPLETED" : "RUNNING"));
      }
    }
    assert.deepEqual(await claimTasks(sql, "default", null, 10), []);
    for (const [i, id] of runs.entries()) {
      const doc = await getRun(sql, id);
      assert.equal(doc?.status, "COMPLETED");
      assert.deepEqual(doc?.output, { c: { step: "c", i } });
    }
  },
);

dbTest(
  "refused entries come back in place and do not stop the rest of the batch",
  async ({ sql }) => {
    const v = await registerFlow(sql, chain);
    await started(sql, v.id);
    await started(sql, v.id);
    const [x, y] = await claimTasks(sql, "default", null, 2);
    const unknown = crypto.randomUUID();
    const outcomes = await completeTasks(sql, [
      { task: x.task, lease: crypto.randomUUID(), output: 1 },
      { task: unknown, lease: crypto.randomUUID(), output: 2 },
      { task: y.task, lease: y.lease, output: 3 },
      { task: y.task, lease: y.lease, output: 4 },
    ]);
    assert.deepEqual(outcomes, [
      { error: "stale_lease", status: "RUNNING" },
      { error: "not_found" },
      { ok: true, task: y.task, run_status: "RUNNING" },
      { error: "stale_lease", status: "COMPLETED" },
    ]);
    const [b] = await claimTasks(sql, "default", ["b"], 10);
    assert.equal(b.run_id, y.run_id, "only y's run moved on");
    assert.deepEqual(b.input.deps, { a: 3 }, "the duplicate changed nothing");
    const stillX = await completeTask(sql, x.task, x.lease, 5);
    assert.ok("ok" in stillX, "x is still held under its own lease");
  },
);

dbTest("tasks of one map step complete together and fan in once", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("fan", [
      { slug: "split" },
      { slug: "square", depends_on: ["split"], map: "split" },
      { slug: "sum", depends_on: ["square"] },
    ]),
  );
  const runId = await started(sql, v.id);
  const [split] = await claimTasks(sql, "default", null, 1);
  await completeTasks(sql, [{ task: split.task, lease: split.lease, output: [1, 2, 3] }]);
  const squares = await claimTasks(sql, "default", ["square"], 10);
  assert.equal(squares.length, 3);
  const outcomes = await completeTasks(
    sql,
    [...squares].reverse().map((t) => ({
      task: t.task,
      lease: t.lease,
      output: (t.input.item as number) ** 2,
    })),
  );
  assert.ok(outcomes.every((o) => "ok" in o));
  const [sum] = await claimTasks(sql, "default", null, 10);
  assert.equal(sum.step, "sum");
  assert.deepEqual(sum.input.deps, { square: [1, 4, 9] });
  await completeTasks(sql, [{ task: sum.task, lease: sum.lease, output: 14 }]);
  assert.equal((await getRun(sql, runId))?.status, "COMPLETED");
});

dbTest("an empty batch is a no-op and a non-array is refused", async ({ sql }) => {
  assert.deepEqual(await completeTasks(sql, []), []);
  const [row] = await sql<{ r: unknown }>`select edgeflow.complete_tasks('[]'::jsonb) as r`;
  assert.deepEqual(row.r, []);
  await assert.rejects(() => sql`select edgeflow.complete_tasks('{}'::jsonb)`);
});

// Migration 0240: at the default random_page_cost the planner read all of
// `tasks` and `runs` for a batch of 10 (hash joins over sequential scans) at
// the peer bench's 1,500 runs; the figure is in claim_tasks.sql. Below a few
// hundred rows a scan is still the cheaper plan, and is still chosen.
dbTest(
  "a batched claim and completion look up their tasks and runs by key, not by scanning the tables",
  async ({ sql }) => {
    const v = await registerFlow(sql, chain);
    await sql`select count(edgeflow.start_run(${v.id}::uuid, '{}'::jsonb))
                from generate_series(1, 1500)`;
    await sql.exec("analyze edgeflow.tasks, edgeflow.runs, edgeflow.step_states");
    const scans = await sql.begin(async (tx) => {
      const claimed = await claimTasks(tx, "default", null, 10);
      assert.equal(claimed.length, 10);
      const outcomes = await completeTasks(
        tx,
        claimed.map((t) => ({ task: t.task, lease: t.lease, output: null })),
      );
      assert.ok(outcomes.every((o) => "ok" in o));
      return await tx<{ relname: string; seq_scan: number }>`
        select relname, seq_scan::int from pg_catalog.pg_stat_xact_user_tables
         where schemaname = 'edgeflow' and relname in ('tasks', 'runs') order by relname`;
    });
    assert.deepEqual(
      scans.map((r) => ({ ...r })),
      [{ relname: "runs", seq_scan: 0 }, { relname: "tasks", seq_scan: 0 }],
    );
  },
);
