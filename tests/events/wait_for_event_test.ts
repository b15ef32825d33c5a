// deno-lint-ignore-file no-explicit-any
/**
 * `ctx.waitForEvent` from a handler (issue 16): the SDK worker against the
 * real server over a served port. The attempt ends "suspended" (a fenced
 * result), the task waits holding no lease, message or slot, and the event
 * (or the timeout, moved with the engine's clock) queues it again: the
 * handler re-runs with the event memoized. On PGlite and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import {
  createWorker,
  silentLogger,
  type TaskContext,
  WaitTimeoutError,
} from "../../shared/worker/mod.ts";
import { emit, register, runDoc, start, tick } from "./helpers.ts";
import { claimTasks } from "../../shared/engine/tasks.ts";

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const APPROVAL = {
  name: "approval",
  steps: [{ slug: "ask", timeout: 60 }, { slug: "after", depends_on: ["ask"] }],
};

/** The app served on a port, and an SDK worker running `handlers`. */
async function served(db: TestDatabase, handlers: Record<string, (ctx: TaskContext) => unknown>) {
  const t = testApp(db, { heartbeatSeconds: 1 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, t.app.fetch);
  const suspended: string[] = [];
  const worker = createWorker({
    url: `http://127.0.0.1:${server.addr.port}`,
    key: ADMIN_KEY,
    logger: silentLogger,
    pollSeconds: 1,
    handlers,
  });
  worker.on("task:suspended", (e) => suspended.push(`${e.event}/${e.key}`));
  await worker.start();
  return {
    ...t,
    suspended,
    async [Symbol.asyncDispose]() {
      await worker.stop({ timeoutMs: 5_000 });
      await server.shutdown();
    },
  };
}

async function taskRow(db: TestDatabase, run: string, slug: string) {
  const [t] = await db.sql<any>`
    select status, lease, msg_id, attempts, waited,
           (select count(*)::int from edgeflow.slots s where s.holder = t.id) as slots
      from edgeflow.tasks t where run_id = ${run}::uuid and slug = ${slug}`;
  return t;
}

dbTest(
  "a handler's waitForEvent suspends its task; the event re-runs it with the payload",
  async (db) => {
    const calls: { attempt: number; passed: boolean }[] = [];
    await using s = await served(db, {
      ask: async (ctx) => {
        const entry = { attempt: ctx.attempt, passed: false };
        calls.push(entry);
        const ev = await ctx.waitForEvent<{ ok: boolean }>("approval.given", {
          key: String(ctx.input.run.doc),
          timeout: 3600,
          match: { "/ok": true },
        });
        entry.passed = true;
        return { approved: ev.ok };
      },
      after: (ctx) => ({ got: ctx.input.deps.ask }),
    });
    await register(s.call, APPROVAL);
    const run = await start(s.call, "approval", { doc: "d1" });

    const waiting = await until("the run to wait", async () => {
      const doc = await runDoc(s.call, run);
      return doc.status === "WAITING" ? doc : undefined;
    });
    assert.equal(waiting.steps[0].status, "WAITING");
    // The run is WAITING once the suspension commits; the worker hears its answer just after.
    await until(
      "the worker to see its suspension",
      () => Promise.resolve(s.suspended.length || undefined),
    );
    assert.deepEqual(s.suspended, ["approval.given/d1"]);
    const t = await taskRow(db, run, "ask");
    assert.equal(t.status, "WAITING");
    assert.equal(t.lease, null, "no lease is held while waiting");
    assert.equal(t.msg_id, null, "no message: nothing for a worker to claim");
    assert.equal(t.slots, 0);

    // Not this document's event, and one the match refuses: still waiting.
    await emit(s.call, { name: "approval.given", key: "d2", payload: { ok: true } });
    const refused = await emit(s.call, {
      name: "approval.given",
      key: "d1",
      payload: { ok: false },
    });
    assert.equal(refused.body.runs_resumed, 0);
    const res = await emit(s.call, { name: "approval.given", key: "d1", payload: { ok: true } });
    assert.equal(res.body.runs_resumed, 1);

    const done = await until("the run to complete", async () => {
      const doc = await runDoc(s.call, run);
      return ["COMPLETED", "FAILED"].includes(doc.status) ? doc : undefined;
    });
    assert.equal(done.status, "COMPLETED", JSON.stringify(done));
    assert.deepEqual(done.output, { after: { got: { approved: true } } });
    // The code before the wait ran twice; the resumption is the same attempt, not a retry.
    assert.deepEqual(calls, [{ attempt: 1, passed: false }, { attempt: 1, passed: true }]);
    const after = await taskRow(db, run, "ask");
    assert.equal(after.status, "COMPLETED");
    assert.deepEqual(after.waited, [
      {
        event: "approval.given",
        key: "d1",
        payload: { ok: true },
        id: res.body.event.id,
      },
    ]);
  },
);

dbTest(
  "waitForEvent throws WaitTimeoutError after its timeout (the tick, the engine's clock)",
  async (db) => {
    const clock = testClock(db.sql);
    let seen: unknown;
    await using s = await served(db, {
      ask: async (ctx) => {
        try {
          return await ctx.waitForEvent("approval.given", { key: "d9", timeout: 600 });
        } catch (err) {
          if (!(err instanceof WaitTimeoutError)) throw err;
          seen = err;
          return "timed out";
        }
      },
      after: () => null,
    });
    await register(s.call, APPROVAL);
    const run = await start(s.call, "approval", { doc: "d9" });
    await until("the run to wait", async () => {
      return (await runDoc(s.call, run)).status === "WAITING" ? true : undefined;
    });
    await clock.advance(599);
    assert.equal((await tick(s.call)).events.timeouts, 0);
    await clock.advance(2);
    assert.equal((await tick(s.call)).events.timeouts, 1);
    // Too late: the timeout won; the event resumes nothing.
    const late = await emit(s.call, { name: "approval.given", key: "d9", payload: 1 });
    assert.equal(late.body.runs_resumed, 0);
    const done = await until("the run to complete", async () => {
      const doc = await runDoc(s.call, run);
      return ["COMPLETED", "FAILED"].includes(doc.status) ? doc : undefined;
    });
    assert.equal(done.status, "COMPLETED");
    assert.ok(seen instanceof WaitTimeoutError);
    assert.equal(done.steps[0].output, "timed out");
    assert.equal((await tick(s.call)).events.timeouts, 0, "fired once");
  },
);

/** Suspend through the protocol by hand: the fencing of the suspension itself. */
async function suspend(call: any, task: string, lease: string, wait: Record<string, unknown>) {
  return await call("POST", `/heartbeat/tasks/${task}/suspend`, { lease, wait });
}

dbTest(
  "a suspension is fenced like a result: stale leases and repeats get 409, nothing changes",
  async (db) => {
    const { call } = testApp(db);
    await register(call, APPROVAL);
    const run = await start(call, "approval", { doc: "d3" });
    const [claimed] = await claimTasks(db.sql, "default", ["ask"], 1);
    const wait = { seq: 0, event: "approval.given", key: "d3", timeout: 60 };

    const stale = await suspend(call, claimed.task, crypto.randomUUID(), wait);
    assert.equal(stale.status, 409);
    assert.equal((await taskRow(db, run, "ask")).status, "RUNNING");
    const ahead = await suspend(call, claimed.task, claimed.lease, { ...wait, seq: 1 });
    assert.equal(ahead.status, 409, "a wait the task has not reached");
    assert.equal(ahead.body.errors[0].path, "wait.seq");
    const bad = await suspend(call, claimed.task, claimed.lease, { ...wait, timeout: 0 });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, "wait.timeout");

    const ok = await suspend(call, claimed.task, claimed.lease, wait);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.resumed, false);
    for (const again of ["suspend", "complete"]) {
      const res = again === "suspend"
        ? await suspend(call, claimed.task, claimed.lease, wait)
        : await call("POST", `/heartbeat/tasks/${claimed.task}/complete`, {
          lease: claimed.lease,
          output: 1,
        });
      assert.equal(res.status, 409, `${again} under the suspended lease`);
    }
    assert.deepEqual(await claimTasks(db.sql, "default", ["ask"], 1), [], "nothing to claim");

    await emit(call, { name: "approval.given", key: "d3", payload: { n: 1 } });
    const [again] = await claimTasks(db.sql, "default", ["ask"], 1);
    assert.equal(again.task, claimed.task);
    assert.notEqual(again.lease, claimed.lease, "a fresh lease");
    assert.equal(again.attempt, 1);
    assert.deepEqual((again as any).waited.map((w: any) => w.payload), [{ n: 1 }]);
    const old = await call("POST", `/heartbeat/tasks/${claimed.task}/complete`, {
      lease: claimed.lease,
      output: "late",
    });
    assert.equal(old.status, 409, "the first lease stays dead");
    const fresh = await call("POST", `/heartbeat/tasks/${again.task}/complete`, {
      lease: again.lease,
      output: "ok",
    });
    assert.equal(fresh.status, 200);
  },
);

dbTest(
  "a run cancelled while its handler waits ends the task; the event finds nothing",
  async (db) => {
    const { call } = testApp(db);
    await register(call, APPROVAL);
    const run = await start(call, "approval", { doc: "d4" });
    const [claimed] = await claimTasks(db.sql, "default", ["ask"], 1);
    const wait = { seq: 0, event: "approval.given", key: "d4", timeout: 60 };
    assert.equal((await suspend(call, claimed.task, claimed.lease, wait)).status, 200);
    const cancel = await call("POST", `/trigger/runs/${run}/cancel`);
    assert.ok(cancel.status === 200 || cancel.status === 202, JSON.stringify(cancel.body));
    assert.equal((await runDoc(call, run)).status, "CANCELLED");
    assert.equal((await taskRow(db, run, "ask")).status, "CANCELLED");
    const res = await emit(call, { name: "approval.given", key: "d4", payload: null });
    assert.equal(res.body.runs_resumed, 0);
    const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.waits`;
    assert.equal(n, 0);
  },
);

dbTest("a map step's task cannot suspend: 409 naming why", async (db) => {
  const { call } = testApp(db);
  await register(call, {
    name: "fan",
    steps: [{ slug: "items" }, { slug: "each", depends_on: ["items"], map: "items" }],
  });
  await start(call, "fan", {});
  const [items] = await claimTasks(db.sql, "default", ["items"], 1);
  await call("POST", `/heartbeat/tasks/${items.task}/complete`, {
    lease: items.lease,
    output: [1],
  });
  const [each] = await claimTasks(db.sql, "default", ["each"], 1);
  const res = await suspend(call, each.task, each.lease, {
    seq: 0,
    event: "x",
    timeout: 60,
  });
  assert.equal(res.status, 409);
  assert.match(res.body.detail, /map step/);
});

dbTest(
  "an SDK handler of a map step that calls waitForEvent fails at once, saying why",
  async (db) => {
    await using s = await served(db, {
      items: () => [1],
      each: async (ctx) => await ctx.waitForEvent("x", { timeout: 60 }),
    });
    await register(s.call, {
      name: "fan",
      steps: [{ slug: "items" }, { slug: "each", depends_on: ["items"], map: "items" }],
    });
    const run = await start(s.call, "fan", {});
    const done = await until("the run to end", async () => {
      const doc = await runDoc(s.call, run);
      return ["COMPLETED", "FAILED"].includes(doc.status) ? doc : undefined;
    });
    assert.equal(done.status, "FAILED");
    assert.match(JSON.stringify(done.steps[1].error), /map step/);
    assert.deepEqual(s.suspended, [], "no suspension was accepted");
  },
);
