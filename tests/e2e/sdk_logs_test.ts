// deno-lint-ignore-file no-explicit-any
/** `ctx.log` of the TS SDK reaches the run's logs over a served port. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

dbTest("ctx.log lines of every attempt and map task arrive in the run's logs", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const key = (await call("POST", "/deploy/keys", { name: "w", scopes: ["worker"] })).body.key;
  await call("POST", "/register", {
    name: "noisy",
    steps: [
      { slug: "list" },
      { slug: "each", depends_on: ["list"], map: "list", max_attempts: 2, base_delay: 0 },
    ],
  });
  const failedOnce = new Set<unknown>();
  const worker = createWorker({
    url,
    key,
    capacity: 2,
    logger: silentLogger,
    handlers: {
      list: (ctx: TaskContext) => {
        ctx.log.debug("listing", { source: "memory" });
        ctx.log.info("listed", { n: 2 });
        return ["a", "b"];
      },
      each: (ctx: TaskContext) => {
        ctx.log.info(`item ${ctx.input.item}`, { attempt: ctx.attempt });
        if (ctx.input.item === "b" && !failedOnce.has("b")) {
          failedOnce.add("b");
          ctx.log.error("flaky, will retry");
          throw new Error("flaky");
        }
        ctx.log.warn("done");
        return ctx.input.item;
      },
    },
  });
  try {
    await worker.start();
    const { body } = await call("POST", "/trigger/flows/noisy", {});
    const run = await waitFor("the run to end", async () => {
      const r = await call("GET", `/trigger/runs/${body.run_id}`);
      return ["COMPLETED", "FAILED"].includes(r.body.status) ? r.body : undefined;
    });
    assert.equal(run.status, "COMPLETED");
    // Every line was flushed before its task's result: all are in once the run is over.
    const logs = (await call("GET", `/trigger/runs/${body.run_id}/logs`)).body;
    const seen = logs.logs.map((l: any) => `${l.step}#${l.attempt} ${l.level} ${l.message}`);
    assert.deepEqual(seen.filter((s: string) => s.startsWith("list")), [
      "list#1 debug listing",
      "list#1 info listed",
    ]);
    const each = seen.filter((s: string) => s.startsWith("each")).sort();
    assert.deepEqual(each, [
      "each#1 error flaky, will retry",
      "each#1 info item a",
      "each#1 info item b",
      "each#1 warn done",
      "each#2 info item b",
      "each#2 warn done",
    ]);
    assert.deepEqual(logs.logs[0].fields, { source: "memory" });
    const errors = (await call("GET", `/trigger/runs/${body.run_id}/logs?level=error`)).body;
    assert.deepEqual(errors.logs.map((l: any) => l.message), ["flaky, will retry"]);
    assert.deepEqual(logs.dropped, []);
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});

dbTest("a worker with shipLogs: false keeps its lines local", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  await call("POST", "/register", { name: "quiet", steps: [{ slug: "one" }] });
  const local: string[] = [];
  const worker = createWorker({
    url,
    key: "test-admin-key-0123456789",
    shipLogs: false,
    logger: (_level, message) => local.push(message),
    handlers: { one: (ctx: TaskContext) => ctx.log.info("only here") },
  });
  try {
    await worker.start();
    const { body } = await call("POST", "/trigger/flows/quiet", {});
    await waitFor("the run to end", async () => {
      const r = await call("GET", `/trigger/runs/${body.run_id}`);
      return r.body.status === "COMPLETED" ? true : undefined;
    });
    assert.ok(local.includes("only here"));
    assert.deepEqual((await call("GET", `/trigger/runs/${body.run_id}/logs`)).body.logs, []);
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});

dbTest("lines over the worker's buffer are counted as dropped on the server", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  await call("POST", "/register", { name: "flood", steps: [{ slug: "loop" }] });
  const worker = createWorker({
    url,
    key: "test-admin-key-0123456789",
    logger: silentLogger,
    handlers: {
      // 1,500 lines at once: 1,000 fit the buffer, 500 are counted.
      loop: (ctx: TaskContext) => {
        for (let i = 0; i < 1500; i++) ctx.log.info(`line ${i}`);
      },
    },
  });
  try {
    await worker.start();
    const { body } = await call("POST", "/trigger/flows/flood", {});
    await waitFor("the run to end", async () => {
      const r = await call("GET", `/trigger/runs/${body.run_id}`);
      return r.body.status === "COMPLETED" ? true : undefined;
    });
    const logs = (await call("GET", `/trigger/runs/${body.run_id}/logs?limit=1000`)).body;
    assert.equal(logs.logs.length, 1000);
    assert.equal(logs.logs.at(-1).message, "line 999");
    assert.equal(logs.dropped.length, 1);
    assert.equal(logs.dropped[0].dropped, 500);
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});

dbTest(
  "captureConsole ships a handler's console output once, beside its ctx.log lines",
  async (db) => {
    const { app, call } = testApp(db, { heartbeatSeconds: 1 });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const url = `http://127.0.0.1:${server.addr.port}`;
    await call("POST", "/register", { name: "talky", steps: [{ slug: "say" }] });
    const printed: string[] = [];
    const worker = createWorker({
      url,
      key: "test-admin-key-0123456789",
      captureConsole: true,
      // The worker's own logger prints to the console too: its lines must not come back twice.
      logger: (_level, message) => console.info(`[worker] ${message}`),
      handlers: {
        say: async (ctx: TaskContext) => {
          ctx.log.info("via ctx");
          await Promise.resolve();
          console.log("via console", { n: 1 });
          console.error("an error line");
        },
      },
    });
    const original = console.info;
    console.info = (...args: unknown[]) => void printed.push(args.join(" "));
    try {
      await worker.start();
      // Outside any task: printed, never shipped.
      console.log("not a task's");
      const { body } = await call("POST", "/trigger/flows/talky", {});
      await waitFor("the run to end", async () => {
        const r = await call("GET", `/trigger/runs/${body.run_id}`);
        return r.body.status === "COMPLETED" ? true : undefined;
      });
      const logs = (await call("GET", `/trigger/runs/${body.run_id}/logs`)).body.logs;
      assert.deepEqual(logs.map((l: any) => [l.level, l.message]), [
        ["info", "via ctx"],
        ["info", 'via console {"n":1}'],
        ["error", "an error line"],
      ]);
      assert.ok(
        printed.some((p) => p.includes("[worker] via ctx")),
        "the worker logger still prints",
      );
    } finally {
      await worker.stop({ timeoutMs: 5_000 });
      console.info = original;
      await server.shutdown();
    }
  },
);
