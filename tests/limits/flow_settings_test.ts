/**
 * The Prefect-1 flow settings that change how leases are treated — Lazarus,
 * heartbeat: false, version_lock: false — and the sweep's run-level passes.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { flowDef, started } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { getRun } from "../../shared/engine/runs.ts";
import {
  claimTasks,
  completeTask,
  extendLeases,
  failTask,
  sweepExpired,
} from "../../shared/engine/tasks.ts";
import type { Sql } from "../../shared/db/sql.ts";

const settings = (s: Partial<{ heartbeat: boolean; lazarus: boolean; version_lock: boolean }>) => ({
  settings: { heartbeat: true, lazarus: false, version_lock: true, ...s },
});

async function sweep(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<{ r: Record<string, number> }>`select edgeflow.sweep() as r`;
  return row.r;
}

dbTest(
  "lazarus: a crashed run resumes from its unfinished steps, at most 3 times",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("phoenix", [
        { slug: "first" },
        { slug: "flaky", depends_on: ["first"], max_attempts: 1, timeout: 1 },
        { slug: "last", depends_on: ["flaky"] },
      ], settings({ lazarus: true })),
    );
    const runId = await started(sql, v.id);
    const [first] = await claimTasks(sql, "default", null, 1);
    await completeTask(sql, first.task, first.lease, "kept");

    for (let crash = 1; crash <= 3; crash++) {
      const [t] = await claimTasks(sql, "default", ["flaky"], 1);
      assert.equal(t.attempt, 1, "fresh attempts after each resurrection");
      await advanceClock(sql, 1.2); // the worker died: no heartbeat
      const swept = await sweep(sql);
      assert.equal(swept.failed, 1);
      assert.equal(swept.resurrected, 1, `resurrection ${crash}`);
      const doc = await getRun(sql, runId);
      assert.equal(doc?.status, "PENDING");
      assert.deepEqual(doc?.steps.map((s) => s.status), ["COMPLETED", "QUEUED", "PENDING"]);
    }
    const [t] = await claimTasks(sql, "default", ["flaky"], 1);
    assert.deepEqual(t.input.deps, { first: "kept" }, "completed steps are not run again");
    await advanceClock(sql, 1.2);
    assert.equal((await sweep(sql)).resurrected, 0, "no fourth time");
    const dead = await getRun(sql, runId);
    assert.equal(dead?.status, "CRASHED");
    assert.match(JSON.stringify(dead?.error), /gave up/);
    const [{ resurrections }] = await sql<{ resurrections: number }>`
    select resurrections from edgeflow.runs where id = ${runId}::uuid`;
    assert.equal(resurrections, 3);
  },
);

dbTest("lazarus: a resumed run completes normally", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("rise", [{ slug: "s", max_attempts: 1, timeout: 1 }], settings({ lazarus: true })),
  );
  const runId = await started(sql, v.id);
  await claimTasks(sql, "default", null, 1);
  await advanceClock(sql, 1.2);
  await sweepExpired(sql);
  const [t] = await claimTasks(sql, "default", null, 1);
  assert.ok("ok" in await completeTask(sql, t.task, t.lease, "alive"));
  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "COMPLETED");
  assert.deepEqual(doc?.output, { s: "alive" });
});

dbTest("without lazarus a crashed run stays CRASHED", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("mortal", [{ slug: "s", max_attempts: 1, timeout: 1 }]),
  );
  const runId = await started(sql, v.id);
  await claimTasks(sql, "default", null, 1);
  await advanceClock(sql, 1.2);
  assert.equal((await sweep(sql)).resurrected, 0);
  assert.equal((await getRun(sql, runId))?.status, "CRASHED");
});

dbTest(
  "heartbeat: false — a task's lease never expires and the sweep leaves it",
  async ({ sql }) => {
    const v = await registerFlow(
      sql,
      flowDef("no-heartbeat", [{ slug: "long", timeout: 1 }], settings({ heartbeat: false })),
    );
    const runId = await started(sql, v.id);
    const [t] = await claimTasks(sql, "default", null, 1);
    assert.equal(t.lease_expires_at, null);
    await advanceClock(sql, 1.3);
    assert.equal((await sweepExpired(sql)).swept, 0);
    assert.deepEqual(await claimTasks(sql, "default", null, 1), [], "not claimable again");
    assert.ok("ok" in await completeTask(sql, t.task, t.lease, "finally"));
    assert.equal((await getRun(sql, runId))?.status, "COMPLETED");
  },
);

dbTest("version_lock: false accepts a result under a superseded lease", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("unlocked", [{ slug: "s", timeout: 1 }], settings({ version_lock: false })),
  );
  const runId = await started(sql, v.id);
  const [old] = await claimTasks(sql, "default", null, 1);
  await advanceClock(sql, 1.2);
  const [fresh] = await claimTasks(sql, "default", null, 1);
  assert.notEqual(fresh.lease, old.lease);
  // A heartbeat under the old token is still told the lease is lost...
  assert.deepEqual((await extendLeases(sql, [{ task: old.task, lease: old.lease }])).lost, [
    old.task,
  ]);
  // ...but its result is accepted, once.
  assert.ok("ok" in await completeTask(sql, old.task, old.lease, "from the old lease"));
  assert.deepEqual(await completeTask(sql, fresh.task, fresh.lease, "too late"), {
    error: "stale_lease",
    status: "COMPLETED",
  });
  assert.deepEqual((await getRun(sql, runId))?.output, { s: "from the old lease" });
});

dbTest("version_lock: true (the default) refuses it and changes nothing", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("locked", [{ slug: "s", timeout: 1 }]));
  const runId = await started(sql, v.id);
  const [old] = await claimTasks(sql, "default", null, 1);
  await advanceClock(sql, 1.2);
  const [fresh] = await claimTasks(sql, "default", null, 1);
  assert.deepEqual(await completeTask(sql, old.task, old.lease, "x"), {
    error: "stale_lease",
    status: "RUNNING",
  });
  assert.deepEqual(await failTask(sql, old.task, old.lease, { message: "x" }), {
    error: "stale_lease",
    status: "RUNNING",
  });
  const [row] = await sql<{ attempts: number; lease: string }>`
    select attempts, lease::text from edgeflow.tasks where id = ${fresh.task}::uuid`;
  assert.deepEqual({ ...row }, { attempts: 2, lease: fresh.lease });
  assert.equal((await getRun(sql, runId))?.status, "RUNNING");
});

dbTest(
  "the sweep crashes a RUNNING run left with no work, and settles a stuck CANCELLING run",
  async ({ sql }) => {
    const v = await registerFlow(sql, flowDef("orphan", [{ slug: "a" }, { slug: "b" }]));
    const orphan = await started(sql, v.id);
    const [a] = await claimTasks(sql, "default", ["a"], 1);
    // Simulate work lost outside the engine's transitions.
    await sql`update edgeflow.tasks set status = 'CANCELLED' where run_id = ${orphan}::uuid`;
    const busy = await started(sql, v.id);
    await claimTasks(sql, "default", ["a"], 1);

    const cancelling = await started(sql, v.id);
    await sql`update edgeflow.runs set status = 'CANCELLING' where id = ${cancelling}::uuid`;
    await sql`update edgeflow.tasks set status = 'CANCELLED' where run_id = ${cancelling}::uuid`;

    const swept = await sweep(sql);
    assert.equal(swept.crashed, 1);
    assert.equal(swept.settled, 1);
    const doc = await getRun(sql, orphan);
    assert.equal(doc?.status, "CRASHED");
    assert.match(JSON.stringify(doc?.error), /no queued or running task/);
    assert.equal((await getRun(sql, busy))?.status, "RUNNING", "a run with work is left alone");
    assert.equal((await getRun(sql, cancelling))?.status, "CANCELLED");
    assert.ok("error" in await completeTask(sql, a.task, a.lease, 1));
  },
);
