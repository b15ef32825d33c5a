/**
 * Tag-based concurrency limits: a task of a run carrying a limited tag needs
 * a slot of that limit, and every way a task ends gives the slot back in the
 * same transaction.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { testApp } from "../support/app.ts";
import { flowDef, started } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { cancelRun, getRun } from "../../shared/engine/runs.ts";
import { claimTasks, completeTask, failTask, sweepExpired } from "../../shared/engine/tasks.ts";
import { slotCount, slots } from "./helpers.ts";

dbTest(
  "a tag limit of 1 runs one tagged task at a time; completing it frees the slot",
  async (db) => {
    const { sql } = db;
    const { call } = testApp(db);
    const created = await call("POST", "/deploy/concurrency-limits", { tag: "etl", limit: 1 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([created.body.tag, created.body.limit, created.body.active_slots], [
      "etl",
      1,
      0,
    ]);

    const v = await registerFlow(sql, flowDef("tagged", [{ slug: "work" }]));
    const first = await started(sql, v.id, {}, { tags: ["etl", "other"] });
    const second = await started(sql, v.id, {}, { tags: ["etl"] });
    const free = await started(sql, v.id, {}, { tags: [] });

    const claimed = await claimTasks(sql, "default", null, 10, "w1");
    assert.deepEqual(
      claimed.map((t) => t.run_id).sort(),
      [first, free].sort(),
      "one tagged, one free",
    );
    assert.deepEqual(await slots(sql), { "tag:etl": 1 });
    const shown = await call("GET", "/deploy/concurrency-limits/etl");
    assert.equal(shown.body.active_slots, 1);
    assert.equal(shown.body.holders[0].run_id, first);

    // The waiting task was not charged an attempt and is still QUEUED.
    const [waiting] = await sql<{ status: string; attempts: number }>`
    select status, attempts from edgeflow.tasks where run_id = ${second}::uuid`;
    assert.deepEqual({ ...waiting }, { status: "QUEUED", attempts: 0 });

    const tagged = claimed.find((t) => t.run_id === first)!;
    assert.ok("ok" in await completeTask(sql, tagged.task, tagged.lease, "done"));
    assert.equal(await slotCount(sql), 0, "released in the completing transaction");

    await advanceClock(db.sql, 1.1); // the refused message becomes visible again after a second
    const next = await claimTasks(sql, "default", null, 10, "w1");
    assert.deepEqual(next.map((t) => t.run_id), [second]);
    assert.equal(next[0].attempt, 1);
  },
);

dbTest("every way a task ends releases its slots", async ({ sql }) => {
  await sql`select edgeflow.set_concurrency_limit('t', 10)`;
  const v = await registerFlow(
    sql,
    flowDef("ends", [
      { slug: "a", max_attempts: 2, timeout: 1 },
      { slug: "b" },
      { slug: "c", max_attempts: 5, timeout: 1 },
    ]),
  );
  const run = () => started(sql, v.id, {}, { tags: ["t"] });
  const claimOf = async (runId: string, handler: string) => {
    const [t] = (await claimTasks(sql, "default", [handler], 10)).filter((t) => t.run_id === runId);
    assert.ok(t, `claimed ${handler} of ${runId}`);
    return t;
  };

  // fail with a retry, then fail for good (the run fails, b is cancelled)
  const r1 = await run();
  let t = await claimOf(r1, "a");
  assert.equal(await slotCount(sql), 1);
  await failTask(sql, t.task, t.lease, { message: "retry me" });
  assert.equal(await slotCount(sql), 0, "failed attempt → QUEUED");
  t = await claimOf(r1, "a");
  await failTask(sql, t.task, t.lease, { message: "final" });
  assert.equal(await slotCount(sql), 0, "final failure");

  // a run that fails while a sibling task runs gives back the sibling's slot too
  const r2 = await run();
  const a2 = await claimOf(r2, "a");
  const b2 = await claimOf(r2, "b");
  assert.equal(await slotCount(sql), 2);
  await failTask(sql, a2.task, a2.lease, { message: "fatal" }, false);
  assert.equal((await getRun(sql, r2))?.status, "FAILED");
  assert.equal(await slotCount(sql), 0, "the run's end frees b's slot while b still runs");
  assert.equal("error" in await completeTask(sql, b2.task, b2.lease, 1), true);

  // cancellation: CANCELLING keeps the running task's slot, its end frees it
  const r3 = await run();
  const a3 = await claimOf(r3, "a");
  await cancelRun(sql, r3);
  assert.equal(await slotCount(sql), 1, "still running while CANCELLING");
  await completeTask(sql, a3.task, a3.lease, "late");
  assert.equal((await getRun(sql, r3))?.status, "CANCELLED");
  assert.equal(await slotCount(sql), 0);

  // lease expiry, through the sweep
  const r4 = await run();
  await claimOf(r4, "c");
  await advanceClock(sql, 1.2);
  assert.equal((await sweepExpired(sql)).requeued, 1);
  assert.equal(await slotCount(sql), 0, "expired lease");
  // ... and re-claiming an expired lease directly keeps exactly one slot
  const again = await claimOf(r4, "c");
  await advanceClock(sql, 1.2);
  const third = (await claimTasks(sql, "default", ["c"], 10)).filter((x) => x.run_id === r4);
  assert.equal(third.length, 1, "expired lease re-claimed without a sweep");
  assert.notEqual(third[0].lease, again.lease);
  assert.deepEqual(await slots(sql), { "tag:t": 1 });
});

dbTest("a limit of 0 holds tagged tasks back; other tasks and other tags run", async ({ sql }) => {
  await sql`select edgeflow.set_concurrency_limit('blocked', 0)`;
  await sql`select edgeflow.set_concurrency_limit('roomy', 5)`;
  const v = await registerFlow(sql, flowDef("zero", [{ slug: "s" }]));
  const blocked = await started(sql, v.id, {}, { tags: ["roomy", "blocked"] });
  const roomy = await started(sql, v.id, {}, { tags: ["roomy"] });
  const claimed = await claimTasks(sql, "default", null, 10);
  assert.deepEqual(claimed.map((t) => t.run_id), [roomy]);
  assert.deepEqual(await slots(sql), { "tag:roomy": 1 }, "no slot kept by the refused task");

  // Removing the limit lets the task through once its message is visible again.
  assert.equal(
    (await sql<{ d: boolean }>`select edgeflow.delete_concurrency_limit('blocked') as d`)[0].d,
    true,
  );
  await advanceClock(sql, 1.1);
  const later = await claimTasks(sql, "default", null, 10);
  assert.deepEqual(later.map((t) => t.run_id), [blocked]);
});

dbTest("concurrency-limit routes refuse bad input with problems", async (db) => {
  const { call } = testApp(db);
  const bad = await call("POST", "/deploy/concurrency-limits", { tag: "x", limit: -1 });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.code, "validation_failed");
  assert.equal(bad.body.errors[0].path, "limit");
  assert.equal((await call("POST", "/deploy/concurrency-limits", { tag: "x" })).status, 422);
  assert.equal((await call("POST", "/deploy/concurrency-limits", "nope")).status, 400);
  assert.equal((await call("GET", "/deploy/concurrency-limits/none")).status, 404);
  assert.equal((await call("DELETE", "/deploy/concurrency-limits/none")).status, 404);
  assert.equal(
    (await call("POST", "/deploy/concurrency-limits", { tag: "x", limit: 1 }, { key: null }))
      .status,
    401,
  );

  assert.equal(
    (await call("POST", "/deploy/concurrency-limits", { tag: "x", limit: 1 })).status,
    201,
  );
  const updated = await call("POST", "/deploy/concurrency-limits", { tag: "x", limit: 3 });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.limit, 3);
  const list = await call("GET", "/deploy/concurrency-limits");
  assert.deepEqual(list.body.limits.map((l: { tag: string }) => l.tag), ["x"]);
  assert.equal((await call("DELETE", "/deploy/concurrency-limits/x")).status, 204);
  assert.deepEqual((await call("GET", "/deploy/concurrency-limits")).body.limits, []);
});
