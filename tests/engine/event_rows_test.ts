/**
 * A task and its step that make the same move in one statement share one row
 * of edgeflow.events (`step_too`, migration 0277): a claim that starts the
 * step, a completion that completes it. Readers see two events (ids id and
 * id + 1) through edgeflow.event_log and edgeflow.run_events, the same story
 * a row per change told. The claim and completion paths write those rows
 * themselves; what else changes in their statements (a step admitted to a
 * per-key slot, a late result to a re-queued task) still gets its events.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { dbTest } from "../support/db.ts";
import { flowDef, started } from "../support/flows.ts";
import { advanceClock } from "../support/clock.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { completeTasks } from "../../shared/engine/batch.ts";
import type { Sql } from "../../shared/db/sql.ts";

interface Ev {
  id: number;
  kind: string;
  step: string | null;
  task: string | null;
  attempt: number | null;
  from: string | null;
  to: string;
}

async function runEvents(sql: Sql, runId: string, after = 0, limit = 1000) {
  const [row] = await sql<{ p: { events: Ev[]; last_id: number } }>`
    select edgeflow.run_events(${runId}::uuid, ${after}::bigint, ${limit}::int) as p`;
  return row.p;
}

const moves = (events: Ev[]) =>
  events.map((e) => `${e.kind}:${e.step ?? ""}:${e.from ?? "∅"}→${e.to}`);

async function rows(sql: Sql, runId: string) {
  const [r] = await sql<{ rows: number; merged: number; events: number }>`
    select (select count(*)::int from edgeflow.events where run_id = ${runId}::uuid) as rows,
           (select count(*)::int from edgeflow.events
             where run_id = ${runId}::uuid and step_too) as merged,
           (select count(*)::int from edgeflow.event_log where run_id = ${runId}::uuid) as events`;
  return r;
}

const CHAIN_STORY = [
  "run::∅→PENDING",
  "step:a:PENDING→QUEUED",
  "task:a:QUEUED→RUNNING",
  "step:a:QUEUED→RUNNING",
  "task:a:RUNNING→COMPLETED",
  "step:a:RUNNING→COMPLETED",
  "step:b:PENDING→QUEUED",
  "task:b:QUEUED→RUNNING",
  "step:b:QUEUED→RUNNING",
  "task:b:RUNNING→COMPLETED",
  "step:b:RUNNING→COMPLETED",
  "run::RUNNING→COMPLETED",
];

for (const path of ["batch", "single"] as const) {
  dbTest(
    `${path}: a task and its step moving together are one row, read back as two events`,
    async ({ sql }) => {
      const v = await registerFlow(
        sql,
        flowDef("pair", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]),
      );
      const runs = [await started(sql, v.id), await started(sql, v.id)];
      for (let i = 0; i < 10; i++) {
        const claimed = await claimTasks(sql, "default", null, path === "batch" ? 10 : 1);
        if (claimed.length === 0) break;
        if (path === "batch") {
          assert.equal(claimed.length, 2, "both runs' steps in one claim");
          const out = await completeTasks(
            sql,
            claimed.map((t) => ({ task: t.task, lease: t.lease, output: t.step })),
          );
          assert.ok(out.every((o) => "ok" in o));
        } else {
          for (const t of claimed) assert.ok("ok" in await completeTask(sql, t.task, t.lease, 1));
        }
      }
      for (const id of runs) {
        const page = await runEvents(sql, id);
        const events = page.events;
        // The run's events, without the run's PENDING → RUNNING (a batch
        // claim writes it after its tasks' rows, a one-task claim before).
        assert.deepEqual(
          moves(events).filter((m) => m !== "run::PENDING→RUNNING"),
          CHAIN_STORY,
        );
        assert.equal(moves(events).filter((m) => m === "run::PENDING→RUNNING").length, 1);
        const ids = events.map((e) => e.id);
        assert.deepEqual(ids, [...new Set(ids)].sort((x, y) => x - y), "ids unique, ascending");
        assert.ok(events.filter((e) => e.kind === "task").every((e) => e.task && e.attempt === 1));
        assert.ok(events.filter((e) => e.kind === "step").every((e) => !e.task && !e.attempt));
        // 4 of the 12 changes ride on their task's row: 9 rows, 13 events.
        assert.deepEqual(await rows(sql, id), { rows: 9, merged: 4, events: 13 });

        // A page may end between a row's two events: the next page starts at
        // its step's (id + 1), and no event is read twice or skipped.
        const seen: number[] = [];
        let after = 0;
        for (let n = 0; n < 50; n++) {
          const p = await runEvents(sql, id, after, 1);
          if (p.events.length === 0) break;
          seen.push(p.events[0].id);
          after = p.last_id;
        }
        assert.deepEqual(seen, ids);
        // The dashboard's read (newest 200) and the log view agree with the API.
        const [log] = await sql<{ ids: number[] }>`
          select array_agg(id::int order by id) as ids from edgeflow.event_log
           where run_id = ${id}::uuid`;
        assert.deepEqual(log.ids, ids);
      }
    },
  );
}

dbTest(
  "a step admitted to its key's slot while a batch completes the step before it gets its event",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("keyed_step", [{
        slug: "s",
        concurrency: [{ key: "{{ run.customer }}", limit: 1 }],
      }] as never),
    );
    const a = await started(sql, v.id, { customer: "c1" });
    const b = await started(sql, v.id, { customer: "c1" });
    const [ta] = await claimTasks(sql, "default", null, 10);
    assert.equal(ta.run_id, a, "b's step waits for the key");
    // Two entries, so the set-based path: a's task and one that does not exist.
    const out = await completeTasks(sql, [
      { task: ta.task, lease: ta.lease, output: 1 },
      { task: crypto.randomUUID(), lease: crypto.randomUUID(), output: 1 },
    ]);
    assert.ok("ok" in out[0]);
    const events = moves((await runEvents(sql, b)).events);
    assert.ok(events.includes("step:s:PENDING→QUEUED"), `b's step admitted: ${events.join(", ")}`);
    // And through the one-task path.
    const [tb] = await claimTasks(sql, "default", null, 1);
    assert.equal(tb.run_id, b);
    const c = await started(sql, v.id, { customer: "c1" });
    assert.ok("ok" in await completeTask(sql, tb.task, tb.lease, 1));
    assert.ok(moves((await runEvents(sql, c)).events).includes("step:s:PENDING→QUEUED"));
  },
);

for (const path of ["batch", "single"] as const) {
  dbTest(
    `${path}: a late result to a re-queued task (no version lock) records what really moved`,
    async ({ sql }) => {
      const v = await registerFlow(
        sql,
        flowDef("late", [{ slug: "a", timeout: 1 }], {
          settings: { heartbeat: true, lazarus: false, version_lock: false },
        }),
      );
      const id = await started(sql, v.id);
      const [t] = await claimTasks(sql, "default", null, 1);
      await advanceClock(sql, 1.5);
      await sql`select edgeflow.sweep()`;
      const [task] = await sql<{ status: string }>`
        select status from edgeflow.tasks where id = ${t.task}::uuid`;
      assert.equal(task.status, "QUEUED", "the lease ran out: queued for its retry");
      if (path === "batch") {
        const out = await completeTasks(sql, [
          { task: t.task, lease: t.lease, output: 1 },
          { task: crypto.randomUUID(), lease: crypto.randomUUID(), output: 1 },
        ]);
        assert.ok("ok" in out[0], JSON.stringify(out));
      } else {
        assert.ok("ok" in await completeTask(sql, t.task, t.lease, 1));
      }
      const events = moves((await runEvents(sql, id)).events);
      assert.deepEqual(events.slice(-4), [
        "task:a:RUNNING→QUEUED",
        "task:a:QUEUED→COMPLETED",
        "step:a:RUNNING→COMPLETED",
        "run::RUNNING→COMPLETED",
      ]);
    },
  );
}

dbTest(
  "with edgeflow.notify_events on, a claim or completion that writes only shared rows notifies its runs",
  async (db) => {
    const v = await registerFlow(
      db.sql,
      flowDef("heard", [{ slug: "a" }, { slug: "m", depends_on: ["a"], map: "a" }]),
    );
    const ids = [await started(db.sql, v.id), await started(db.sql, v.id)];
    for (const t of await claimTasks(db.sql, "default", null, 10)) {
      assert.ok("ok" in await completeTask(db.sql, t.task, t.lease, [1, 2]));
    }
    const got: string[] = [];
    const listener = postgres(db.url!, { max: 1, onnotice: () => {} });
    try {
      await listener.listen("edgeflow_events", (payload) => got.push(payload));
      // The map steps' four tasks: the claim starts both steps (runs already
      // RUNNING), the completion of one task per run leaves each step RUNNING.
      const claimed = await db.sql.begin(async (tx) => {
        await tx`select set_config('edgeflow.notify_events', 'on', true)`;
        return await claimTasks(tx, "default", null, 10);
      });
      assert.equal(claimed.length, 4);
      await db.sql.begin(async (tx) => {
        await tx`select set_config('edgeflow.notify_events', 'on', true)`;
        const firsts = ids.map((id) => claimed.find((t) => t.run_id === id)!);
        const out = await completeTasks(
          tx,
          firsts.map((t) => ({ task: t.task, lease: t.lease, output: 1 })),
        );
        assert.ok(out.every((o) => "ok" in o));
      });
      const deadline = Date.now() + 5000;
      while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual([...got].sort(), [...ids, ...ids].sort());
    } finally {
      await listener.end();
    }
  },
  { only: "postgres" },
);

dbTest(
  "with edgeflow.event_log off and the triggers on, the triggers log every change, a row each",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("plain", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]),
    );
    const runs = [await started(sql, v.id), await started(sql, v.id)];
    await sql.begin(async (tx) => {
      await tx`select set_config('edgeflow.event_log', 'off', true)`;
      for (let i = 0; i < 4; i++) {
        const claimed = await claimTasks(tx, "default", null, 10);
        if (claimed.length === 0) break;
        const out = await completeTasks(
          tx,
          claimed.map((t) => ({ task: t.task, lease: t.lease, output: t.step })),
        );
        assert.ok(out.every((o) => "ok" in o));
      }
    });
    for (const id of runs) {
      const events = (await runEvents(sql, id)).events;
      assert.deepEqual(
        moves(events).filter((m) => m !== "run::PENDING→RUNNING"),
        CHAIN_STORY,
      );
      assert.deepEqual(await rows(sql, id), { rows: 13, merged: 0, events: 13 });
    }
  },
);
