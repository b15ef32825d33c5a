import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { flowDef, started } from "../support/flows.ts";
import { archiveFlowVersion, registerFlow, resolveFlowVersion } from "../../shared/engine/flows.ts";
import { startRun } from "../../shared/engine/runs.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";

dbTest("identical re-registration returns the existing version", async ({ sql }) => {
  const first = await registerFlow(sql, flowDef("etl", [{ slug: "a" }]));
  assert.equal(first.version, 1);
  assert.equal(first.created, true);
  assert.match(first.hash, /^[0-9a-f]{64}$/);
  const again = await registerFlow(sql, flowDef("etl", [{ slug: "a" }]));
  assert.deepEqual(again, { ...first, created: false });
});

dbTest("a changed definition becomes version N+1 and archives N", async ({ sql }) => {
  const v1 = await registerFlow(sql, flowDef("etl", [{ slug: "a" }]));
  const v2 = await registerFlow(sql, flowDef("etl", [{ slug: "a", timeout: 99 }]));
  assert.equal(v2.version, 2);
  assert.notEqual(v2.hash, v1.hash);
  const [row] = await sql<{ archived: boolean }>`
    select archived from edgeflow.flow_versions where id = ${v1.id}::uuid`;
  assert.equal(row.archived, true);
  assert.deepEqual(await startRun(sql, v1.id, {}), {
    error: "archived",
    flow: "etl",
    version: 1,
  });
  assert.equal((await resolveFlowVersion(sql, "etl"))?.version, 2);
});

dbTest("an archived version's running runs still finish", async ({ sql }) => {
  const v1 = await registerFlow(
    sql,
    flowDef("keep", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]),
  );
  const runId = await started(sql, v1.id);
  const [a] = await claimTasks(sql, "default", null, 1);
  await archiveFlowVersion(sql, "keep", 1);
  await completeTask(sql, a.task, a.lease, 1);
  const [b] = await claimTasks(sql, "default", null, 1);
  const done = await completeTask(sql, b.task, b.lease, 2);
  assert.ok("ok" in done && done.run_status === "COMPLETED", runId);
  assert.equal((await startRun(sql, v1.id, {})).error, "archived");
});

dbTest("an idempotency key decides re-registration", async ({ sql }) => {
  const v1 = await registerFlow(sql, flowDef("k", [{ slug: "a" }]), { idempotencyKey: "build-1" });
  const same = await registerFlow(sql, flowDef("k", [{ slug: "a", timeout: 5 }]), {
    idempotencyKey: "build-1",
  });
  assert.equal(same.created, false, "same key: no new version even though the text changed");
  assert.equal(same.version, v1.version);
  const next = await registerFlow(sql, flowDef("k", [{ slug: "a" }]), {
    idempotencyKey: "build-2",
  });
  assert.equal(next.version, 2);
});

dbTest("version groups each keep one unarchived version", async ({ sql }) => {
  await registerFlow(sql, flowDef("g", [{ slug: "a" }]), { versionGroup: "blue" });
  const green = await registerFlow(sql, flowDef("g", [{ slug: "a", timeout: 2 }]), {
    versionGroup: "green",
  });
  const blue2 = await registerFlow(sql, flowDef("g", [{ slug: "a", timeout: 3 }]), {
    versionGroup: "blue",
  });
  assert.deepEqual([green.version, blue2.version], [2, 3]);
  assert.equal((await resolveFlowVersion(sql, "g", null, "green"))?.version, 2);
  assert.equal((await resolveFlowVersion(sql, "g", null, "blue"))?.version, 3);
  const versions = await sql<{ version: number; archived: boolean }>`
    select version, archived from edgeflow.flow_versions where flow_name = 'g' order by version`;
  assert.deepEqual(versions.map((v) => v.archived), [true, false, false]);
});

dbTest("archiving an unknown version says not_found", async ({ sql }) => {
  assert.deepEqual(await archiveFlowVersion(sql, "nope", 1), { error: "not_found" });
});

dbTest("one idempotency key gives one run; another body gives a conflict", async ({ sql }) => {
  const v = await registerFlow(sql, flowDef("idem", [{ slug: "a" }]));
  const opts = { idempotencyScope: "deployment:x", idempotencyKey: "k1", requestHash: "h1" };
  const runs = await Promise.all(Array.from({ length: 20 }, () => startRun(sql, v.id, {}, opts)));
  const ids = new Set(runs.map((r) => r.run_id));
  assert.equal(ids.size, 1);
  assert.equal(runs.filter((r) => r.error === undefined && r.created).length, 1);
  const other = await startRun(sql, v.id, {}, { ...opts, requestHash: "h2" });
  assert.equal(other.error, "idempotency_conflict");
  const [{ n }] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
  assert.equal(n, 1);
});
