// deno-lint-ignore-file no-explicit-any
/**
 * Seed 003's modular subflows over HTTP: SDK workers in two pools. The main
 * worker knows only the main flow's handlers, the isolated one only the
 * subflow's; the subflow hands its result back through a variable.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

dbTest("a main flow runs a subflow in an isolated pool and reads its variable", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const key = (await call("POST", "/deploy/keys", {
    name: "w",
    scopes: ["worker", "trigger", "deploy"],
  })).body.key;
  for (const name of ["main", "isolated"]) await call("POST", "/deploy/pools", { name });
  await call("POST", "/register", { name: "subflow", steps: [{ slug: "report" }] });
  await call("POST", "/deploy", { name: "report-dep", flow: "subflow", pool: "isolated" });
  await call("POST", "/register", {
    name: "pipeline",
    steps: [
      { slug: "fetch" },
      { slug: "transform", deployment: "report-dep", depends_on: ["fetch"], args: { id: "r1" } },
      { slug: "store", depends_on: ["transform"] },
    ],
  });
  await call("POST", "/register", { name: "caller", steps: [{ slug: "call" }] });
  await call("POST", "/deploy", { name: "pipeline-dep", flow: "pipeline", pool: "main" });
  await call("POST", "/deploy", { name: "caller-dep", flow: "caller", pool: "main" });

  const main = createWorker({
    url,
    key,
    pool: "main",
    pollSeconds: 1,
    logger: silentLogger,
    handlers: {
      fetch: () => ({ rows: [1, 2, 3] }),
      store: async (ctx: TaskContext) => ({
        stored: await ctx.variables.get(`result-r1`),
        missing: await ctx.variables.get("no-such-variable"),
      }),
      call: async (ctx: TaskContext) => {
        const child = await ctx.runDeployment("report-dep", { id: "r2" }, { pollMs: 50 });
        return { child: child.output, variable: await ctx.variables.get("result-r2") };
      },
    },
  });
  const isolated = createWorker({
    url,
    key,
    pool: "isolated",
    pollSeconds: 1,
    logger: silentLogger,
    handlers: {
      report: async (ctx: TaskContext) => {
        const id = ctx.input.run.id as string;
        await ctx.variables.set(`result-${id}`, { id, total: 6 });
        return { reported: id };
      },
    },
  });
  try {
    await Promise.all([main.start(), isolated.start()]);
    const finished = (id: string) =>
      waitFor(`run ${id} to end`, async () => {
        const r = await call("GET", `/trigger/runs/${id}`);
        return ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(r.body.status)
          ? r.body
          : undefined;
      });

    const pipeline = (await call("POST", "/trigger/pipeline-dep", {})).body.run_id;
    const run = await finished(pipeline);
    assert.equal(run.status, "COMPLETED", JSON.stringify(run.error));
    assert.deepEqual(run.output, { store: { stored: { id: "r1", total: 6 } } });
    assert.equal(run.children.length, 1);
    const child = (await call("GET", `/trigger/runs/${run.children[0].run_id}`)).body;
    assert.equal(child.pool, "isolated");
    assert.equal(child.parent.run_id, pipeline);
    assert.equal(child.parent.step, "transform");

    const caller = (await call("POST", "/trigger/caller-dep", {})).body.run_id;
    const called = await finished(caller);
    assert.equal(called.status, "COMPLETED", JSON.stringify(called.error));
    assert.deepEqual(called.output, {
      call: { child: { report: { reported: "r2" } }, variable: { id: "r2", total: 6 } },
    });
    // The run ctx.runDeployment started is linked like a deployment step's child.
    assert.equal(called.children.length, 1, JSON.stringify(called.children));
    assert.equal(called.children[0].step, "call");
    assert.equal(called.children[0].status, "COMPLETED");
    const started = (await call("GET", `/trigger/runs/${called.children[0].run_id}`)).body;
    assert.equal(started.deployment, "report-dep");
    assert.equal(started.parent.run_id, caller);
    assert.equal(started.parent.step, "call");
  } finally {
    await Promise.all([main.stop({ timeoutMs: 5_000 }), isolated.stop({ timeoutMs: 5_000 })]);
    await server.shutdown();
  }
});

dbTest("ctx.runDeployment throws a retryable error when the child run fails", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  await call("POST", "/register", { name: "bad", steps: [{ slug: "boom", max_attempts: 1 }] });
  await call("POST", "/deploy", { name: "bad-dep", flow: "bad", pool: "default" });
  await call("POST", "/register", {
    name: "calls-bad",
    steps: [{ slug: "call", max_attempts: 2, base_delay: 0 }],
  });
  const seen: unknown[] = [];
  const worker = createWorker({
    url,
    key: (await call("POST", "/deploy/keys", { name: "w", scopes: ["admin"] })).body.key,
    pollSeconds: 1,
    capacity: 2,
    logger: silentLogger,
    handlers: {
      boom: () => {
        throw new Error("child exploded");
      },
      call: async (ctx: TaskContext) => {
        try {
          return await ctx.runDeployment("bad-dep", {}, { pollMs: 50 });
        } catch (err) {
          seen.push((err as any).name, (err as any).status);
          throw err;
        }
      },
    },
  });
  try {
    await worker.start();
    const id = (await call("POST", "/trigger/flows/calls-bad", {})).body.run_id;
    const run = await waitFor("the caller to fail", async () => {
      const r = await call("GET", `/trigger/runs/${id}`);
      return r.body.status === "FAILED" ? r.body : undefined;
    });
    assert.equal(run.steps[0].attempts, 2, "retried once: the error was retryable");
    assert.match(run.error.message, /deployment "bad-dep" ended FAILED: child exploded/);
    assert.deepEqual(seen, ["DeploymentRunError", "FAILED", "DeploymentRunError", "FAILED"]);
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});

dbTest("a trigger's parent_task must be a task with room for one more level", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "leaf", steps: [{ slug: "a" }] });
  await call("POST", "/deploy", { name: "leaf-dep", flow: "leaf" });
  const unknown = await call("POST", "/trigger/leaf-dep", { parent_task: crypto.randomUUID() });
  assert.equal(unknown.status, 422);
  assert.deepEqual(unknown.body.errors, [{ path: "parent_task", message: "no such task" }]);
  const bad = await call("POST", "/trigger/leaf-dep", { parent_task: "nope" });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, "parent_task");
  const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
  assert.equal(n, 0, "nothing written");

  // A chain of runs each started by a task of the one before, up to the limit.
  let parent = (await call("POST", "/trigger/leaf-dep", {})).body.run_id;
  for (let depth = 1; depth <= 16; depth++) {
    const [{ id: task }] = await db.sql<{ id: string }>`
      select id from edgeflow.tasks where run_id = ${parent}::uuid`;
    const res = await call("POST", "/trigger/leaf-dep", { parent_task: task });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const doc = (await call("GET", `/trigger/runs/${res.body.run_id}`)).body;
    assert.equal(doc.parent.task, task);
    parent = res.body.run_id;
  }
  const [{ id: last }] = await db.sql<{ id: string }>`
    select id from edgeflow.tasks where run_id = ${parent}::uuid`;
  const deep = await call("POST", "/trigger/leaf-dep", { parent_task: last });
  assert.equal(deep.status, 422);
  assert.match(deep.body.errors[0].message, /nested 17 deep, over the limit of 16/);
});

dbTest(
  "a handler that runs its own deployment stops at the depth limit, no retries",
  async (db) => {
    const { app, call } = testApp(db, { heartbeatSeconds: 1 });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const url = `http://127.0.0.1:${server.addr.port}`;
    await call("POST", "/register", { name: "selfish", steps: [{ slug: "recurse" }] });
    await call("POST", "/deploy", { name: "selfish-dep", flow: "selfish" });
    const worker = createWorker({
      url,
      key: (await call("POST", "/deploy/keys", { name: "w", scopes: ["admin"] })).body.key,
      pollSeconds: 1,
      capacity: 20, // every level's handler waits for the level below
      logger: silentLogger,
      handlers: {
        recurse: (ctx: TaskContext) => ctx.runDeployment("selfish-dep", {}, { pollMs: 50 }),
      },
    });
    try {
      await worker.start();
      const id = (await call("POST", "/trigger/selfish-dep", {})).body.run_id;
      const top = await waitFor("the top run to fail", async () => {
        const r = await call("GET", `/trigger/runs/${id}`);
        return r.body.status === "FAILED" ? r.body : undefined;
      }, 60_000);
      assert.equal(top.error.code, "subflow_depth_exceeded");
      assert.equal(top.steps[0].attempts, 1, "not retried: a retry would nest as deep");
      const runs = (await call("GET", "/trigger/runs?limit=100")).body.runs;
      assert.equal(runs.length, 17, "the top run and 16 nested levels");
      const [{ n }] = await db.sql<{ n: number }>`
      select count(*)::int as n from edgeflow.tasks where attempts <> 1 or status <> 'FAILED'`;
      assert.equal(n, 0, "every level failed once");
      let doc = top;
      for (let depth = 0; depth < 16; depth++) {
        assert.equal(doc.children.length, 1);
        doc = (await call("GET", `/trigger/runs/${doc.children[0].run_id}`)).body;
      }
      assert.equal(doc.children.length, 0);
      assert.match(doc.error.message, /nested 17 deep, over the limit of 16/);
    } finally {
      await worker.stop({ timeoutMs: 5_000 });
      await server.shutdown();
    }
  },
);
