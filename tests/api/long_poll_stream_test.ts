/**
 * The streamed long poll (Workers, where `request.signal` only aborts while
 * an answer streams): the answer's headers go out at once, a space is written
 * before each claim, and a client that stopped reading is seen by the failed
 * write before anything is claimed for it (issue 10, item 1, on Cloudflare).
 * The client here never aborts its signal: it cancels the body, as workerd
 * does when the connection closes.
 */
import assert from "node:assert/strict";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

function streamingApp(db: TestDatabase) {
  const held: Promise<unknown>[] = [];
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
    keepUntil: (_c, work) => held.push(work),
  });
  const poll = (worker: string) =>
    app.request("/heartbeat", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ worker, pool: "default", capacity: 1, wait_seconds: 10 }),
    });
  return { poll, settled: () => Promise.all(held) };
}

dbTest("a streamed long poll whose client stopped reading claims nothing", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "lp-stream", steps: [{ slug: "a", max_attempts: 1 }] });
  const { poll, settled } = streamingApp(db);
  const res = await poll("w-gone");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), " ", "a space before the first claim");
  await reader.cancel(); // the connection closed; the signal never fired

  const run = await call("POST", "/trigger/flows/lp-stream", {});
  assert.equal(run.status, 201);
  await settled(); // the poll saw the failed write and ended
  const [task] = await db.sql<{ status: string; attempts: number; worker: string | null }>`
    select status, attempts, worker from edgeflow.tasks where run_id = ${run.body.run_id}::uuid`;
  assert.deepEqual({ ...task }, { status: "QUEUED", attempts: 0, worker: null });

  const live = await call("POST", "/heartbeat", { worker: "w-live", pool: "default", capacity: 1 });
  assert.equal(live.body.tasks.length, 1);
  assert.equal(live.body.tasks[0].attempt, 1, "no attempt was spent on the gone client");
});

dbTest("a streamed long poll hands over work that arrives while it waits", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "lp-stream2", steps: [{ slug: "a" }] });
  const { poll, settled } = streamingApp(db);
  const res = await poll("w-1");
  const text = res.text(); // reading, as a connected client does
  const run = await call("POST", "/trigger/flows/lp-stream2", {});
  const body = JSON.parse(await text);
  await settled();
  assert.equal(body.long_poll, true);
  assert.equal(body.tasks.length, 1);
  assert.equal(body.tasks[0].run_id, run.body.run_id);
  assert.equal(body.tasks[0].attempt, 1);
});
