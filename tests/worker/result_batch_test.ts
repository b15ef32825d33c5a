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

/** Waits (10 s at most) until the RUNS runs are COMPLETED. */
async function allCompleted(db: TestDatabase): Promise<void> {
  const done = async () =>
    (await db.sql<{ n: number }>`
      select count(*)::int as n from edgeflow.runs where status = 'COMPLETED'`)[0].n;
  const deadline = Date.now() + 10_000;
  while ((await done()) < RUNS) {
    if (Date.now() > deadline) throw new Error("the runs did not complete");
    await new Promise((r) => setTimeout(r, 10));
  }
}

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
    await allCompleted(db);
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

/**
 * Four runs of s → t: the s handlers return together, so one batch reports
 * them. With `next` that call also claims the t tasks its results made
 * ready; `oldServer` takes `next` out of the request before the app sees
 * it (a control plane from before it ignores the member and answers none),
 * and the worker must then get them by heartbeat.
 */
async function chainTogether(db: TestDatabase, oldServer: boolean) {
  const { app, call } = testApp(db);
  assert.equal(
    (await call("POST", "/register", {
      name: "pair",
      steps: [{ slug: "s" }, { slug: "t", depends_on: ["s"] }],
    })).status,
    201,
  );
  for (let i = 0; i < RUNS; i++) {
    assert.equal((await call("POST", "/trigger/flows/pair", {})).status, 201);
  }
  const batches: {
    sent: { next?: Record<string, unknown> };
    got: { next?: { tasks: { step: string }[] } };
  }[] = [];
  const beats: { step: string }[][] = [];
  let started = 0;
  let release!: () => void;
  const barrier = new Promise<void>((r) => (release = r));
  const worker = createWorker({
    url: "http://edgeflow.test",
    name: "pair-worker",
    key: ADMIN_KEY,
    capacity: RUNS,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    logger: () => {},
    fetch: async (input, init) => {
      const path = new URL(String(input)).pathname;
      const sent = path === "/heartbeat/tasks/complete" ? JSON.parse(String(init?.body)) : null;
      if (sent && oldServer) {
        init = { ...init, body: JSON.stringify({ results: sent.results }) };
      }
      const res = await app.request(String(input), init);
      if (path === "/heartbeat") {
        const body = await res.clone().json();
        if (body.tasks?.length) beats.push(body.tasks);
        return res;
      }
      if (path !== "/heartbeat/tasks/complete") return res;
      batches.push({ sent, got: await res.clone().json() });
      return res;
    },
    handlers: {
      s: async () => {
        if (++started === RUNS) release();
        await barrier;
        return "s";
      },
      t: () => "t",
    },
  });
  await worker.start();
  try {
    await allCompleted(db);
  } finally {
    await worker.stop();
  }
  return { batches, beats };
}

dbTest("a batch of completions claims the worker's next tasks in the same call", async (db) => {
  const { batches, beats } = await chainTogether(db, false);
  const [first] = batches;
  assert.deepEqual(first.sent.next, {
    worker: "pair-worker",
    pool: "default",
    capacity: RUNS,
    handlers: ["s", "t"],
  });
  assert.deepEqual(first.got.next!.tasks.map((t) => t.step), ["t", "t", "t", "t"]);
  // No heartbeat brought a t task: they came with the batch's answer and ran from there.
  assert.deepEqual(beats.flat().map((t) => t.step), ["s", "s", "s", "s"]);
});

dbTest(
  "a control plane that answers no `next` still gets the next tasks claimed by heartbeat",
  async (db) => {
    const { batches, beats } = await chainTogether(db, true);
    assert.ok(batches[0].sent.next, "the worker asked");
    assert.equal(batches[0].got.next, undefined);
    assert.deepEqual(beats.flat().map((t) => t.step).sort(), [
      "s",
      "s",
      "s",
      "s",
      "t",
      "t",
      "t",
      "t",
    ]);
  },
);

dbTest(
  "a lone completion brings its chain's next step: one call per step at capacity 1",
  async (db) => {
    const { app, call } = testApp(db);
    const steps = ["a", "b", "c"].map((slug, i, all) => ({
      slug,
      depends_on: i ? [all[i - 1]] : [],
    }));
    assert.equal((await call("POST", "/register", { name: "line", steps })).status, 201);
    assert.equal((await call("POST", "/trigger/flows/line", {})).status, 201);
    const { paths, byNext } = await runCapacityOne(db, app, "/heartbeat/tasks/complete", {
      a: () => 1,
      b: () => 2,
      c: () => 3,
    });
    assert.deepEqual(byNext.map((t) => t.step), ["b", "c"]);
    assert.equal(paths.filter((p) => p === "/heartbeat/tasks/complete").length, 3);
    assert.equal(paths.filter((p) => SINGLE_RESULT.test(p)).length, 0);
  },
);

dbTest(
  "a lone failure brings its retry when it is due at once: one call per attempt at capacity 1",
  async (db) => {
    const { app, call } = testApp(db);
    const steps = [{ slug: "x", max_attempts: 3, base_delay: 0 }];
    assert.equal((await call("POST", "/register", { name: "flaky", steps })).status, 201);
    assert.equal((await call("POST", "/trigger/flows/flaky", {})).status, 201);
    const { paths, byNext } = await runCapacityOne(db, app, "/heartbeat/tasks/fail", {
      x: (ctx) => {
        if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt}`);
        return "ok";
      },
    });
    assert.deepEqual(byNext.map((t) => t.attempt), [2, 3]);
    assert.equal(paths.filter((p) => p === "/heartbeat/tasks/fail").length, 2);
    assert.equal(paths.filter((p) => SINGLE_RESULT.test(p)).length, 0);
  },
);

/** A single result's route (`/heartbeat/tasks/:task/complete` or `…/fail`). */
const SINGLE_RESULT = /^\/heartbeat\/tasks\/[0-9a-f-]{36}\//;

/**
 * Runs the test's only run to COMPLETED with a worker of capacity 1; returns
 * every path it called and the tasks the answers of `route` brought in `next`.
 */
async function runCapacityOne(
  db: TestDatabase,
  app: ReturnType<typeof testApp>["app"],
  route: string,
  handlers: Parameters<typeof createWorker>[0]["handlers"],
): Promise<{ paths: string[]; byNext: { step: string; attempt: number }[] }> {
  const paths: string[] = [];
  const byNext: { step: string; attempt: number }[] = [];
  const worker = createWorker({
    url: "http://edgeflow.test",
    key: ADMIN_KEY,
    capacity: 1,
    logger: () => {},
    fetch: async (input, init) => {
      const path = new URL(String(input)).pathname;
      paths.push(path);
      const res = await app.request(String(input), init);
      if (path === route) byNext.push(...((await res.clone().json()).next?.tasks ?? []));
      return res;
    },
    handlers,
  });
  await worker.start();
  try {
    await untilTheRunCompletes(db);
  } finally {
    await worker.stop();
  }
  return { paths, byNext };
}

/** Waits (10 s at most) for the test's only run to be COMPLETED. */
async function untilTheRunCompletes(db: TestDatabase): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (
    (await db.sql<{ s: string }>`select status as s from edgeflow.runs`)[0].s !== "COMPLETED"
  ) {
    if (Date.now() > deadline) throw new Error("the run did not complete");
    await new Promise((r) => setTimeout(r, 10));
  }
}
