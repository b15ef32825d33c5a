/**
 * A long-poll heartbeat whose client has gone claims nothing, and a claim
 * made while the client was leaving is handed back at once: the task is
 * visible again, its attempt not counted, its slot free (issue 10, item 1).
 * The disconnect is the request's own abort signal, fired at a chosen point.
 */
import assert from "node:assert/strict";
import { createApp } from "../../shared/app/app.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

type Rows = Record<string, unknown>[];

/** The app over `sql`, with `onStatement` told of each statement once it has run. */
function appOver(sql: Sql, onStatement: (text: string, rows: Rows) => void) {
  const spied = (async (strings: TemplateStringsArray, ...values: unknown[]) => {
    const rows = await sql(strings, ...values);
    onStatement(strings.join("?"), rows as Rows);
    return rows;
  }) as Sql;
  Object.assign(spied, {
    driver: sql.driver,
    begin: <T>(fn: (tx: Sql) => Promise<T>) => sql.begin(fn),
    exec: (script: string) => sql.exec(script),
    end: () => sql.end(),
  });
  return createApp({
    sql: () => spied,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
  });
}

function longPoll(app: ReturnType<typeof createApp>, worker: string, signal: AbortSignal) {
  return app.request("/heartbeat", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ worker, pool: "default", capacity: 1, wait_seconds: 10 }),
    signal,
  });
}

async function taskRow(sql: Sql, runId: string) {
  const [row] = await sql<{ status: string; attempts: number; lease: string | null }>`
    select status, attempts, lease::text from edgeflow.tasks where run_id = ${runId}::uuid`;
  return row;
}

dbTest("a long poll whose client left claims nothing when work arrives", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "lp-gone", steps: [{ slug: "a", max_attempts: 1 }] });
  // The poll is waiting once its first claim (inside `heartbeat`) found nothing.
  let waiting!: () => void;
  const polling = new Promise<void>((resolve) => (waiting = resolve));
  const app = appOver(db.sql, (text) => {
    if (/edgeflow\.(worker_)?heartbeat\(/.test(text)) waiting();
  });
  const client = new AbortController();
  const poll = longPoll(app, "w-gone", client.signal);
  await polling;
  client.abort(); // the worker was SIGKILLed
  // Triggered through the same app: the trigger wakes every waiting poll.
  const triggered = await app.request("/trigger/flows/lp-gone", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(triggered.status, 201);
  const run = { body: await triggered.json() };
  const res = await poll;
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).tasks, []);
  assert.deepEqual(await taskRow(db.sql, run.body.run_id), {
    status: "QUEUED",
    attempts: 0,
    lease: null,
  });
  const live = await call("POST", "/heartbeat", { worker: "w-live", pool: "default", capacity: 1 });
  assert.equal(live.body.tasks.length, 1, "the live worker gets the task at once");
  assert.equal(live.body.tasks[0].attempt, 1);
});

dbTest("a claim made while the client left is handed back, attempt not counted", async (db) => {
  const { call } = testApp(db);
  assert.equal(
    (await call("POST", "/deploy/concurrency-limits", { tag: "gpu", limit: 1 })).status,
    201,
  );
  await call("POST", "/register", { name: "lp-back", steps: [{ slug: "a", max_attempts: 1 }] });
  assert.equal(
    (await call("POST", "/deploy", { name: "lp-back", flow: "lp-back", tags: ["gpu"] })).status,
    201,
  );
  let waiting!: () => void;
  const polling = new Promise<void>((resolve) => (waiting = resolve));
  const client = new AbortController();
  let claimed = 0;
  const app = appOver(db.sql, (text, rows) => {
    if (/edgeflow\.(worker_)?heartbeat\(/.test(text)) waiting();
    // The client disconnects while the claim statement runs: the claim
    // commits, but its answer can no longer be delivered.
    if (text.includes("edgeflow.claim_tasks(") && (rows[0].r as unknown[]).length > 0) {
      claimed++;
      client.abort();
    }
  });
  const poll = longPoll(app, "w-leaving", client.signal);
  await polling;
  const run = await call("POST", "/trigger/lp-back", {});
  assert.equal(run.status, 201);
  const res = await poll;
  assert.equal(res.status, 200);
  assert.equal(claimed, 1, "the poll claimed the task, then saw its client gone");
  assert.deepEqual((await res.json()).tasks, []);

  assert.deepEqual(await taskRow(db.sql, run.body.run_id), {
    status: "QUEUED",
    attempts: 0,
    lease: null,
  });
  const [{ slots }] = await db.sql<{ slots: number }>`
    select count(*)::int as slots from edgeflow.slots`;
  assert.equal(slots, 0, "the gpu slot was given back");
  const [step] = await db.sql<{ status: string }>`
    select status from edgeflow.step_states where run_id = ${run.body.run_id}::uuid`;
  assert.equal(step.status, "QUEUED");

  const live = await call("POST", "/heartbeat", { worker: "w-live", pool: "default", capacity: 1 });
  assert.equal(live.body.tasks.length, 1, "visible again at once, not after a lease");
  assert.equal(live.body.tasks[0].attempt, 1, "the undelivered claim did not count");
  const done = await call("POST", `/heartbeat/tasks/${live.body.tasks[0].task}/complete`, {
    lease: live.body.tasks[0].lease,
    output: 1,
  });
  assert.equal(done.status, 200);
  const final = await call("GET", `/trigger/runs/${run.body.run_id}`);
  assert.equal(final.body.status, "COMPLETED");
});

dbTest(
  "a plain heartbeat whose client gave up while it claimed hands the claim back",
  async (db) => {
    const { call } = testApp(db);
    await call("POST", "/register", { name: "hb-back", steps: [{ slug: "a" }] });
    const run = await call("POST", "/trigger/flows/hb-back", {});
    assert.equal(run.status, 201);
    const client = new AbortController();
    // The client's own timeout fires while the claiming heartbeat runs (a slow database).
    const app = appOver(db.sql, (text, rows) => {
      const r = rows[0]?.r as { tasks?: unknown[] } | undefined;
      if (/edgeflow\.(worker_)?heartbeat\(/.test(text) && r?.tasks?.length) client.abort();
    });
    const res = await app.request("/heartbeat", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ worker: "w-timeout", pool: "default", capacity: 1 }),
      signal: client.signal,
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).tasks, []);
    assert.deepEqual(await taskRow(db.sql, run.body.run_id), {
      status: "QUEUED",
      attempts: 0,
      lease: null,
    });
    const live = await call("POST", "/heartbeat", {
      worker: "w-live",
      pool: "default",
      capacity: 1,
    });
    assert.equal(live.body.tasks[0]?.attempt, 1);
  },
);
