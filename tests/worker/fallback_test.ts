// deno-lint-ignore-file no-explicit-any
/**
 * `fallback`: a worker that runs any handler of its pool (what the Celery
 * bridge and the executors are), against the real server over HTTP.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";

dbTest(
  "a fallback runs the handlers the worker does not name; the heartbeat names none",
  async (db) => {
    const { app, call } = testApp(db, { heartbeatSeconds: 1 });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const url = `http://127.0.0.1:${server.addr.port}`;
    const key = (await call("POST", "/deploy/keys", { name: "w", scopes: ["worker"] })).body.key;
    await call("POST", "/register", {
      name: "mixed",
      steps: [
        { slug: "a", handler: "mine.a" },
        { slug: "b", handler: "celery.b", depends_on: ["a"] },
        { slug: "c", handler: "flows/c.py:run", depends_on: ["b"] },
      ],
    });
    const seen: string[] = [];
    const worker = createWorker({
      url,
      key,
      name: "w-fallback",
      logger: silentLogger,
      handlers: { "mine.a": () => 1 },
      fallback: (ctx: TaskContext) => {
        seen.push(ctx.handler);
        return (ctx.input.deps.a ?? ctx.input.deps.b) as number + 1;
      },
    });
    await worker.start();
    try {
      const { run_id } = (await call("POST", "/trigger/flows/mixed", {})).body;
      const until = Date.now() + 30_000;
      let run: any;
      while (Date.now() < until) {
        run = (await call("GET", `/trigger/runs/${run_id}`)).body;
        if (["COMPLETED", "FAILED"].includes(run.status)) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(run.steps.map((s: any) => s.output), [1, 2, 3]);
      assert.deepEqual(seen, ["celery.b", "flows/c.py:run"]);
      const workers = (await call("GET", "/heartbeat/workers")).body.workers;
      const me = workers.find((w: any) => w.name === "w-fallback");
      assert.ok(me.handlers === null || me.handlers.length === 0, JSON.stringify(me.handlers));
    } finally {
      await worker.stop();
      await server.shutdown();
    }
  },
);

Deno.test("createWorker needs a handler or a fallback", () => {
  const base = { url: "http://127.0.0.1:1", key: "k", handlers: {} };
  assert.throws(() => createWorker(base), /must name at least one \(or give `fallback`\)/);
  assert.throws(
    () => createWorker({ ...base, fallback: 3 as any }),
    /`fallback` must be a function/,
  );
  assert.equal(createWorker({ ...base, fallback: () => null }).state, "idle");
});
