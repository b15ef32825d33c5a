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

// Migration 0265: the count-down of dependents QUEUES the plain ones that
// became ready, and the count-down of runs completes a run with no step left,
// each in the same update. A run with a map step among its ready ones still
// starts them all through _start_steps. Both kinds of run complete in one
// batch here and one by one beside it: the same steps start, with the same
// tasks and the same events.
dbTest(
  "a batch that readies plain and map steps starts them, and ends runs, as single completions do",
  async ({ sql }) => {
    const mixed = await registerFlow(
      sql,
      flowDef("mixed", [
        { slug: "a" },
        { slug: "b", depends_on: ["a"] },
        { slug: "m", depends_on: ["a"], map: "a" },
      ]),
    );
    const two = await registerFlow(
      sql,
      flowDef("two", [{ slug: "a" }, { slug: "z", depends_on: ["a"] }]),
    );
    const outputOf = (flow: string) => flow === "mixed" ? [1, 2] : "y";

    // A run of each flow completed one batch at a time, then a run of each
    // completed one task at a time. Only one pair is live at a time, so each
    // claim sees only its own tasks.
    async function advance(batch: boolean) {
      const claimed = await claimTasks(sql, "default", null, 20);
      if (!claimed.length) return [];
      const results = claimed.map((t) => ({
        task: t.task,
        lease: t.lease,
        output: t.step === "a" ? outputOf(t.flow) : { step: t.step, item: t.input.item ?? null },
      }));
      if (batch) {
        assert.ok(results.length >= 2, "a real batch, not the one-entry path");
        const outcomes = await completeTasks(sql, results);
        assert.ok(outcomes.every((o) => "ok" in o), JSON.stringify(outcomes));
      } else {
        for (const r of results) {
          assert.ok("ok" in await completeTask(sql, r.task, r.lease, r.output));
        }
      }
      return claimed.map((t) =>
        `${t.flow}.${t.step}${t.input.item === undefined ? "" : `[${t.input.item}]`}`
      )
        .sort();
    }
    async function drive(batch: boolean) {
      const runs = [await started(sql, mixed.id), await started(sql, two.id)];
      const rounds: string[][] = [];
      for (let i = 0; i < 5; i++) {
        const done = await advance(batch);
        if (!done.length) break;
        rounds.push(done);
      }
      return { runs, rounds };
    }
    const { runs: batched, rounds: batchedRounds } = await drive(true);
    const { runs: single, rounds: singleRounds } = await drive(false);
    assert.deepEqual(batchedRounds, [
      ["mixed.a", "two.a"],
      ["mixed.b", "mixed.m[1]", "mixed.m[2]", "two.z"],
    ]);
    assert.deepEqual(singleRounds, batchedRounds);

    // Each step's and each task's own events in order (parallel branches
    // interleave differently in a batch than one by one).
    async function story(runId: string) {
      const doc = await getRun(sql, runId);
      const events = await sql<{ e: string }>`
        select e.kind || ':' || coalesce(e.step, '-') || coalesce('[' || t.task_index || ']', '') ||
               ':' || coalesce(e.from_status, '-') || '>' || e.to_status as e
          from edgeflow.event_log e left join edgeflow.tasks t on t.id = e.task
         where e.run_id = ${runId}::uuid
         order by e.kind, e.step nulls first, t.task_index nulls first, e.id`;
      return { status: doc?.status, output: doc?.output, events: events.map((r) => r.e) };
    }
    for (const i of [0, 1]) {
      const b = await story(batched[i]), s = await story(single[i]);
      assert.equal(b.status, "COMPLETED");
      assert.deepEqual(b, s);
      const queued = b.events.filter((e) => e.startsWith("step:") && e.endsWith("PENDING>QUEUED"));
      assert.deepEqual(
        queued,
        i === 0
          ? ["step:a:PENDING>QUEUED", "step:b:PENDING>QUEUED", "step:m:PENDING>QUEUED"]
          : ["step:a:PENDING>QUEUED", "step:z:PENDING>QUEUED"],
        "each step queued once",
      );
      assert.deepEqual(
        b.events.filter((e) => e.startsWith("run:")),
        ["run:-:->PENDING", "run:-:PENDING>RUNNING", "run:-:RUNNING>COMPLETED"],
      );
    }
    assert.deepEqual((await getRun(sql, batched[0]))?.output, {
      b: { step: "b", item: null },
      m: [{ step: "m", item: 1 }, { step: "m", item: 2 }],
    });
  },
);
