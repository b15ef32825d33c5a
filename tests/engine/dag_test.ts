import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { flowDef, started } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { getRun } from "../../shared/engine/runs.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";

dbTest("a diamond DAG runs in dependency order with {run, deps, args} inputs", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("diamond", [
      { slug: "a", args: { n: 1 } },
      { slug: "b", depends_on: ["a"] },
      { slug: "c", depends_on: ["a"] },
      { slug: "d", depends_on: ["b", "c"] },
    ]),
  );
  const runId = await started(sql, v.id, { x: 42 });

  const [a] = await claimTasks(sql, "default", null, 10);
  assert.equal(a.step, "a");
  assert.deepEqual(a.input, { run: { x: 42 }, deps: {}, args: { n: 1 } });
  assert.deepEqual(await claimTasks(sql, "default", null, 10), [], "b, c wait for a");
  await completeTask(sql, a.task, a.lease, { a: 1 });

  const bc = await claimTasks(sql, "default", null, 10);
  assert.deepEqual(bc.map((t) => t.step).sort(), ["b", "c"]);
  for (const t of bc) assert.deepEqual(t.input.deps, { a: { a: 1 } });
  await completeTask(sql, bc[0].task, bc[0].lease, bc[0].step);
  assert.deepEqual(await claimTasks(sql, "default", null, 10), [], "d waits for both");
  await completeTask(sql, bc[1].task, bc[1].lease, bc[1].step);

  const [d] = await claimTasks(sql, "default", null, 10);
  assert.equal(d.step, "d");
  assert.deepEqual(d.input.deps, { b: "b", c: "c" });
  const done = await completeTask(sql, d.task, d.lease, { total: 3 });
  assert.ok("ok" in done && done.run_status === "COMPLETED");

  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "COMPLETED");
  assert.deepEqual(doc?.output, { d: { total: 3 } }, "output holds the leaf steps");
  assert.deepEqual(doc?.steps.map((s) => [s.slug, s.status, s.attempts]), [
    ["a", "COMPLETED", 1],
    ["b", "COMPLETED", 1],
    ["c", "COMPLETED", 1],
    ["d", "COMPLETED", 1],
  ]);
});

dbTest("handlers filter what a worker claims", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("two", [{ slug: "x" }, { slug: "y" }]));
  await started(sql, v.id, {});
  const onlyY = await claimTasks(sql, "default", ["y"], 10);
  assert.deepEqual(onlyY.map((t) => t.handler), ["y"]);
  const rest = await claimTasks(sql, "default", ["x", "y"], 10);
  assert.deepEqual(rest.map((t) => t.handler), ["x"]);
});

dbTest("a map step fans out per element and fans in in element order", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("mapper", [
      { slug: "split" },
      { slug: "square", depends_on: ["split"], map: "split" },
      { slug: "sum", depends_on: ["square"] },
    ]),
  );
  const runId = await started(sql, v.id, {});
  const [split] = await claimTasks(sql, "default", null, 10);
  await completeTask(sql, split.task, split.lease, [1, 2, 3, 4]);

  const squares = await claimTasks(sql, "default", ["square"], 10);
  assert.equal(squares.length, 4);
  // Complete out of order: the step output still follows element order.
  for (const t of [...squares].reverse()) {
    const item = t.input.item as number;
    assert.deepEqual(t.input.deps, { split: [1, 2, 3, 4] });
    await completeTask(sql, t.task, t.lease, item * item);
  }
  const [sum] = await claimTasks(sql, "default", null, 10);
  assert.deepEqual(sum.input.deps, { square: [1, 4, 9, 16] });
  assert.equal("item" in sum.input, false, "only map tasks carry an item");
  await completeTask(sql, sum.task, sum.lease, 30);
  assert.deepEqual((await getRun(sql, runId))?.output, { sum: 30 });
});

dbTest("a map over an empty array completes at once with []", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("empty-map", [
      { slug: "split" },
      { slug: "each", depends_on: ["split"], map: "split" },
      { slug: "after", depends_on: ["each"] },
    ]),
  );
  const runId = await started(sql, v.id, {});
  const [split] = await claimTasks(sql, "default", null, 10);
  await completeTask(sql, split.task, split.lease, []);
  const [after] = await claimTasks(sql, "default", null, 10);
  assert.equal(after.step, "after");
  assert.deepEqual(after.input.deps, { each: [] });
  await completeTask(sql, after.task, after.lease, "ok");
  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "COMPLETED");
  assert.deepEqual(doc?.steps.find((s) => s.slug === "each")?.output, []);
});

dbTest("a map over something that is not an array fails the run", async ({ sql }) => {
  const v = await registerFlow(
    sql,
    flowDef("bad-map", [{ slug: "split" }, { slug: "each", depends_on: ["split"], map: "split" }]),
  );
  const runId = await started(sql, v.id, {});
  const [split] = await claimTasks(sql, "default", null, 10);
  await completeTask(sql, split.task, split.lease, { not: "an array" });
  const doc = await getRun(sql, runId);
  assert.equal(doc?.status, "FAILED");
  assert.match(String((doc?.error as { message: string }).message), /not an array/);
});

dbTest("start_delay keeps a root step invisible until it has passed", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("delayed", [{ slug: "later", start_delay: 2 }]));
  await started(sql, v.id, {});
  assert.deepEqual(await claimTasks(sql, "default", null, 10), [], "invisible until the delay");
  await advanceClock(sql, 2.1);
  assert.equal((await claimTasks(sql, "default", null, 10)).length, 1);
});
