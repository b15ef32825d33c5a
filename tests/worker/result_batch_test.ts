/**
 * The SDK batches results that finish together into one call to the real
 * control plane (`POST /heartbeat/tasks/complete`), and sends one call per
 * result when batching is off or the server lacks the batch route.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { createWorker } from "../../shared/worker/mod.ts";
import { waitFor } from "./helpers.ts";

const RUNS = 4;

/** Four one-step runs whose handlers all return at the same moment. */
async function runTogether(
  db: TestDatabase,
  options: { resultBatchMs?: number; noBatch?: boolean },
) {
  const { app, call } = testApp(db);
  assert.equal(
    (await call("POST", "/register", { name: "tog", steps: [{ slug: "s" }] })).status,
    201,
  );
  for (let i = 0; i < RUNS; i++) {
    assert.equal((await call("POST", "/trigger/flows/tog", {})).status, 201);
  }
  const paths: string[] = [];
  let started = 0;
  let release!: () => void;
  const barrier = new Promise<void>((r) => (release = r));
  const worker = createWorker({
    url: "http://edgeflow.test",
    key: ADMIN_KEY,
    capacity: RUNS,
    resultBatchMs: options.resultBatchMs,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    logger: () => {},
    fetch: (input, init) => {
      const path = new URL(String(input)).pathname;
      paths.push(path);
      if (options.noBatch && /^\/heartbeat\/tasks\/(complete|fail)$/.test(path)) {
        return Promise.resolve(new Response('{"code":"not_found"}', { status: 404 }));
      }
      return Promise.resolve(app.request(String(input), init));
    },
    handlers: {
      s: async (ctx) => {
        if (++started === RUNS) release();
        await barrier;
        return { run: ctx.input.run };
      },
    },
  });
  await worker.start();
  try {
    await waitFor(() => started === RUNS, "all handlers started");
    const done = async () =>
      (await db.sql<{ n: number }>`
        select count(*)::int as n from edgeflow.runs where status = 'COMPLETED'`)[0].n;
    const deadline = Date.now() + 10_000;
    while ((await done()) < RUNS) {
      if (Date.now() > deadline) throw new Error("the runs did not complete");
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await worker.stop();
  }
  return {
    batched: paths.filter((p) => p === "/heartbeat/tasks/complete").length,
    single: paths.filter((p) => /^\/heartbeat\/tasks\/[0-9a-f-]{36}\/complete$/.test(p)).length,
  };
}

dbTest("results finishing together go to the server in one call", async (db) => {
  const calls = await runTogether(db, {});
  assert.deepEqual(calls, { batched: 1, single: 0 });
});

dbTest("resultBatchMs 0 sends one call per result", async (db) => {
  const calls = await runTogether(db, { resultBatchMs: 0 });
  assert.deepEqual(calls, { batched: 0, single: RUNS });
});

dbTest("a server without the batch route gets one call per result", async (db) => {
  const calls = await runTogether(db, { noBatch: true });
  assert.deepEqual(calls, { batched: 1, single: RUNS });
});
