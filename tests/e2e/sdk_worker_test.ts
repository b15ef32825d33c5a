// deno-lint-ignore-file no-explicit-any
/** The SDK worker against the real server over a served port. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { createWorker, type TaskContext } from "../../shared/worker/mod.ts";
import { silentLogger } from "../../shared/worker/mod.ts";

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

dbTest("an SDK worker runs a DAG with a map step to completion over HTTP", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const key = (await call("POST", "/deploy/keys", { name: "w", scopes: ["worker"] })).body.key;
  await call("POST", "/register", {
    name: "shop",
    steps: [
      { slug: "orders" },
      { slug: "charge", depends_on: ["orders"], map: "orders" },
      { slug: "receipt", depends_on: ["charge"] },
    ],
  });
  let concurrent = 0, peak = 0;
  const worker = createWorker({
    url,
    key,
    capacity: 3,
    logger: silentLogger,
    handlers: {
      orders: () => [5, 10, 15, 20, 25],
      charge: async (ctx: TaskContext) => {
        peak = Math.max(peak, ++concurrent);
        await new Promise((r) => setTimeout(r, 30));
        concurrent--;
        return (ctx.input.item as number) * 2;
      },
      receipt: (ctx: TaskContext) => ({
        total: (ctx.input.deps.charge as number[]).reduce((a, b) => a + b),
      }),
    },
  });
  try {
    await worker.start();
    const { body } = await call("POST", "/trigger/flows/shop", {});
    const run = await waitFor("the run to complete", async () => {
      const r = await call("GET", `/trigger/runs/${body.run_id}`);
      return ["COMPLETED", "FAILED"].includes(r.body.status) ? r.body : undefined;
    });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { receipt: { total: 150 } });
    assert.ok(peak <= 3, `never more than capacity (saw ${peak})`);
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});

dbTest("cancelling a run aborts the SDK handler through its signal", async (db) => {
  const { app, call } = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  await call("POST", "/register", { name: "long", steps: [{ slug: "sleep", timeout: 30 }] });
  let aborted: unknown;
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const worker = createWorker({
    url,
    key: ADMIN_KEY,
    logger: silentLogger,
    pollSeconds: 1,
    handlers: {
      sleep: (ctx: TaskContext) =>
        new Promise((_, reject) => {
          started();
          ctx.signal.addEventListener("abort", () => {
            aborted = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
    },
  });
  try {
    await worker.start();
    const { body } = await call("POST", "/trigger/flows/long", {});
    await running;
    const cancel = await call("POST", `/trigger/runs/${body.run_id}/cancel`);
    assert.equal(cancel.body.status, "CANCELLING");
    await waitFor("the handler to be aborted", () => Promise.resolve(aborted ? true : undefined));
    assert.equal((aborted as any).reason, "cancelled");
    // The task never reports: the run stays CANCELLING until its lease runs out or
    // the worker's next heartbeat; the sweep then settles it.
    const run = await call("GET", `/trigger/runs/${body.run_id}`);
    assert.ok(["CANCELLING", "CANCELLED"].includes(run.body.status));
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
    await server.shutdown();
  }
});
