// deno-lint-ignore-file no-explicit-any
/**
 * Subflows that call themselves (issue 10 item 4): cycles through deployment
 * steps refused at deploy and register time, and the run-time nesting depth
 * limit for the cycles nobody could see, on PGlite without breaking it.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { DeployBody } from "../../shared/api/schemas.ts";
import { deployWithSchedules } from "../../shared/scheduler/deploy_schedules.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { run, step } from "./helpers.ts";

const LOOP = {
  name: "loop",
  steps: [{ slug: "first" }, { slug: "again", deployment: "loop-dep", depends_on: ["first"] }],
};

dbTest(
  "a deployment whose flow runs that same deployment is refused at deploy time",
  async (db) => {
    const { call } = testApp(db);
    assert.equal((await call("POST", "/register", LOOP)).status, 201);
    const res = await call("POST", "/deploy", { name: "loop-dep", flow: "loop" });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, "validation_failed");
    assert.equal(res.body.errors.length, 1);
    assert.equal(res.body.errors[0].path, "steps[1].deployment");
    assert.match(
      res.body.errors[0].message,
      /deployment cycle: deployment "loop-dep" → step "again" of flow "loop" v1 → deployment "loop-dep"/,
    );
    assert.equal(
      (await call("GET", "/deploy/deployments/loop-dep")).status,
      404,
      "nothing written",
    );
  },
);

dbTest(
  "a cycle through a chain of deployments is refused when the last link is deployed",
  async (db) => {
    const { call } = testApp(db);
    await call("POST", "/register", { name: "fa", steps: [{ slug: "to_b", deployment: "dep-b" }] });
    await call("POST", "/register", {
      name: "fb",
      steps: [{ slug: "work" }, { slug: "to_c", deployment: "dep-c" }],
    });
    await call("POST", "/register", { name: "fc", steps: [{ slug: "to_a", deployment: "dep-a" }] });
    assert.equal((await call("POST", "/deploy", { name: "dep-a", flow: "fa" })).status, 201);
    assert.equal((await call("POST", "/deploy", { name: "dep-b", flow: "fb" })).status, 201);
    const res = await call("POST", "/deploy", { name: "dep-c", flow: "fc" });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.errors[0].path, "steps[0].deployment");
    assert.match(
      res.body.errors[0].message,
      /"dep-c" → step "to_a" .* → deployment "dep-a" → step "to_b" .* → deployment "dep-b" → step "to_c" .* → deployment "dep-c"/,
    );
    // A deployment pinned to a version without the loop is fine.
    await call("POST", "/register", { name: "fc", steps: [{ slug: "plain" }] });
    assert.equal(
      (await call("POST", "/deploy", { name: "dep-c", flow: "fc", version: 2 })).status,
      201,
    );
  },
);

dbTest("registering a version that closes a cycle for its deployments is refused", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "fa", steps: [{ slug: "plain" }] });
  await call("POST", "/register", { name: "fb", steps: [{ slug: "to_a", deployment: "dep-a" }] });
  await call("POST", "/deploy", { name: "dep-a", flow: "fa" });
  await call("POST", "/deploy", { name: "dep-b", flow: "fb" });
  const res = await call("POST", "/register", {
    name: "fa",
    steps: [{ slug: "to_b", deployment: "dep-b", depends_on: ["prep"] }, { slug: "prep" }],
  });
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.errors[0].path, "steps[0].deployment", "the index as written");
  assert.match(res.body.errors[0].message, /the version being registered/);
  const flow = await call("GET", "/register/flows/fa");
  assert.equal(flow.body.versions.length, 1, "no version written");
});

/** Deploy without the route's cycle check: two deploys racing could leave this. */
async function deployUnchecked(db: any, body: Record<string, unknown>): Promise<void> {
  const r = await deployWithSchedules(db.sql, DeployBody.parse(body), new Date());
  assert.equal(r.error, undefined);
}

/** The chain of runs below `id`, following each run's only child. */
async function chain(call: any, id: string): Promise<any[]> {
  const runs = [];
  for (let doc = await run(call, id);; doc = await run(call, doc.children[0].run_id)) {
    runs.push(doc);
    if (doc.children.length === 0) return runs;
    assert.equal(doc.children.length, 1);
  }
}

dbTest(
  "a self-calling deployment stops at the nesting depth limit and fails each step once",
  async (db) => {
    const { call } = testApp(db);
    await call("POST", "/register", {
      name: "loop",
      steps: [{ slug: "again", deployment: "loop-dep" }],
    });
    await deployUnchecked(db, { name: "loop-dep", flow: "loop" });

    const res = await call("POST", "/trigger/loop-dep", {});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const runs = await chain(call, res.body.run_id);
    assert.equal(runs.length, 17, "the top-level run and 16 nested levels");
    for (const doc of runs) {
      assert.equal(doc.status, "FAILED");
      assert.equal(step(doc, "again").attempts, 1, "never retried");
      assert.equal(doc.error.code, "subflow_depth_exceeded");
    }
    const deepest = runs[16];
    assert.match(
      deepest.error.message,
      /step "again": a child run of deployment "loop-dep" would be nested 17 deep, over the limit of 16/,
    );
    assert.match(runs[0].error.message, /ended FAILED/);

    // The database is intact: counts are right and a new run works.
    const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
    assert.equal(n, 17);
    assert.deepEqual((await call("GET", "/health")).body, { status: "ok" });
    await call("POST", "/register", { name: "plain", steps: [{ slug: "a" }] });
    const plain = (await call("POST", "/trigger/flows/plain", {})).body.run_id;
    const [task] = await claimTasks(db.sql, "default", null, 5);
    assert.equal(task.run_id, plain);
    await completeTask(db.sql, task.task, task.lease, 1);
    assert.equal((await run(call, plain)).status, "COMPLETED");
    assert.equal((await call("GET", "/trigger/runs?limit=100")).body.runs.length, 18);
  },
);

dbTest("a two-deployment loop is stopped by the depth limit too", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "fa", steps: [{ slug: "to_b", deployment: "dep-b" }] });
  await call("POST", "/register", { name: "fb", steps: [{ slug: "to_a", deployment: "dep-a" }] });
  await deployUnchecked(db, { name: "dep-a", flow: "fa" });
  await deployUnchecked(db, { name: "dep-b", flow: "fb" });
  const res = await call("POST", "/trigger/dep-a", {});
  const runs = await chain(call, res.body.run_id);
  assert.equal(runs.length, 17);
  assert.deepEqual(
    runs.slice(0, 3).map((r) => r.deployment),
    ["dep-a", "dep-b", "dep-a"],
  );
  assert.ok(runs.every((r) => r.status === "FAILED"));
});

dbTest("the depth limit is the setting edgeflow.max_run_depth", async (db) => {
  const { call } = testApp(db);
  // PGlite has one session: a session setting holds for every later statement.
  await db.sql`select set_config('edgeflow.max_run_depth', '3', false)`;
  await call("POST", "/register", {
    name: "loop",
    steps: [{ slug: "again", deployment: "loop-dep" }],
  });
  await deployUnchecked(db, { name: "loop-dep", flow: "loop" });
  const runs = await chain(call, (await call("POST", "/trigger/loop-dep", {})).body.run_id);
  assert.equal(runs.length, 4);
  assert.match(runs[3].error.message, /nested 4 deep, over the limit of 3/);
}, { only: "pglite" });
