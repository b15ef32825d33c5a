// deno-lint-ignore-file no-explicit-any
/**
 * Outbound notifications end to end: a run ends, the outbox row is written
 * in the engine's transaction, sent after the response, signed the Standard
 * Webhooks way (checked with the `standardwebhooks` library), retried after
 * failures as the clock moves (no sleeping), never blocking the completion.
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { ADMIN_KEY } from "../support/app.ts";
import { startReceiver } from "./receiver.ts";
import { testClock } from "../support/clock.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** The app with a clock and background work the test can await. */
function world(db: TestDatabase) {
  // The engine's clock (edgeflow.now()) and the app's follow one shift the test moves.
  const clock = testClock(db.sql);
  const pending: Promise<unknown>[] = [];
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
    now: clock.now,
    background: (_c, task) => void pending.push(task(db.sql)),
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null } as {
      status: number;
      body: any;
    };
  };
  const settle = async () => {
    while (pending.length) await pending.shift();
  };
  const advance = (ms: number) => clock.advance(ms / 1000);
  return { app, call, clock, settle, advance };
}

/** Register `flow`, start a run, complete its one task through the worker protocol. */
async function completeRun(w: ReturnType<typeof world>, flow = "nightly") {
  assert.equal(
    (await w.call("POST", "/register", { name: flow, steps: [{ slug: "a" }] })).status < 300,
    true,
  );
  const run = await w.call("POST", `/trigger/flows/${flow}`, { parameters: {} });
  const hb = await w.call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 1 });
  const [t] = hb.body.tasks;
  const done = await w.call("POST", `/heartbeat/tasks/${t.task}/complete`, {
    lease: t.lease,
    output: { rows: 3 },
  });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  return run.body.run_id as string;
}

dbTest(
  "a completed run is notified, signed, retried after failures, with one webhook-id",
  async (db) => {
    const w = world(db);
    let release!: () => void;
    const held = new Promise<number>((resolve) => (release = () => resolve(500)));
    // Attempt 1 hangs until released (then 500), attempt 2 is a 503, attempt 3 succeeds.
    await using receiver = startReceiver((n) => (n === 1 ? held : n === 2 ? 503 : 200));
    const created = await w.call("POST", "/deploy/notifications", {
      name: "ops",
      url: receiver.url,
      secret: SECRET,
      events: ["run.completed", "run.failed"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.ok(!JSON.stringify(created.body).includes(SECRET), "the secret is never returned");

    // The completion answers while the receiver still holds the first attempt: the
    // engine's transaction never waits on it.
    const runId = await completeRun(w);
    await receiver.arrived(1);
    const first = receiver.received[0];
    // Verified by the standardwebhooks library (its own clock: this attempt is signed now).
    const payload = new Webhook(SECRET).verify(first.body, first.headers) as any;
    assert.equal(payload.type, "run.completed");
    assert.equal(payload.data.run_id, runId);
    assert.equal(payload.data.status, "COMPLETED");
    assert.deepEqual(payload.data.output, { a: { rows: 3 } });
    release();
    await w.settle();

    const log1 = await w.call("GET", "/deploy/notifications/ops/deliveries");
    assert.equal(log1.body.deliveries.length, 1);
    assert.equal(log1.body.deliveries[0].status, "pending");
    assert.equal(log1.body.deliveries[0].last_status, 500);

    // Nothing is sent again before the backoff has passed.
    await w.call("POST", "/trigger/tick");
    assert.equal(receiver.received.length, 1);
    await w.advance(31_000);
    await w.call("POST", "/trigger/tick");
    assert.equal(receiver.received.length, 2);
    await w.advance(30_000);
    await w.call("POST", "/trigger/tick");
    assert.equal(receiver.received.length, 2, "the second backoff is 60 s");
    await w.advance(31_000);
    const tick = await w.call("POST", "/trigger/tick");
    assert.equal(tick.body.notifications.delivered, 1);
    assert.equal(receiver.received.length, 3);

    // Same webhook-id every attempt, each attempt signed afresh for its own timestamp
    // (the library's signature for that id, time and body is the one we sent).
    const ids = new Set(receiver.received.map((r) => r.headers["webhook-id"]));
    assert.equal(ids.size, 1);
    for (const r of receiver.received) {
      const at = new Date(Number(r.headers["webhook-timestamp"]) * 1000);
      assert.equal(
        new Webhook(SECRET).sign(r.headers["webhook-id"], at, r.body),
        r.headers["webhook-signature"],
      );
    }
    assert.equal(
      Number(receiver.received[2].headers["webhook-timestamp"]) -
          Number(receiver.received[0].headers["webhook-timestamp"]) >= 92,
      true,
    );
    const log = await w.call("GET", "/deploy/notifications/ops/deliveries");
    assert.equal(log.body.deliveries[0].status, "delivered");
    assert.equal(log.body.deliveries[0].attempts, 3);

    // Delivered is final: later ticks send nothing more.
    await w.advance(3_600_000);
    await w.call("POST", "/trigger/tick");
    assert.equal(receiver.received.length, 3);
  },
);

dbTest(
  "a receiver that never answers 2xx is retried for over 24 hours, then given up",
  async (db) => {
    const w = world(db);
    await using receiver = startReceiver(() => 503);
    await w.call("POST", "/deploy/notifications", {
      name: "down",
      url: receiver.url,
      secret: SECRET,
    });
    const start = w.clock.now().getTime();
    await completeRun(w);
    await w.settle();
    let status = "pending";
    for (let i = 0; i < 40 && status === "pending"; i++) {
      const [d] = (await w.call("GET", "/deploy/notifications/down/deliveries")).body.deliveries;
      status = d.status;
      if (status !== "pending") break;
      const wait = Date.parse(d.next_attempt_at) - (await w.clock.read()).getTime();
      if (wait > 0) await w.advance(wait + 1);
      await w.call("POST", "/trigger/tick");
    }
    assert.equal(status, "failed");
    const times = receiver.received.map((r) => Number(r.headers["webhook-timestamp"]) * 1000);
    assert.ok(
      times.at(-1)! - start >= 24 * 3_600_000,
      `last attempt after ${(times.at(-1)! - start) / 3.6e6} h`,
    );
    assert.equal(receiver.received.length, 15);
    // Each wait is at least as long as the one before (exponential, capped at 6 h).
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1] - 1000), JSON.stringify(gaps));
  },
);

dbTest("notifications filter by event, flow and deployment", async (db) => {
  const w = world(db);
  await using receiver = startReceiver(() => 200);
  await w.call("POST", "/deploy/notifications", {
    name: "only-failures",
    url: receiver.url,
    secret: SECRET,
    events: ["run.failed"],
  });
  await w.call("POST", "/deploy/notifications", {
    name: "other-flow",
    url: receiver.url,
    secret: SECRET,
    flows: ["something-else"],
  });
  const mine = await w.call("POST", "/deploy/notifications", {
    name: "mine",
    url: receiver.url,
    secret: SECRET,
    flows: ["nightly"],
  });
  assert.equal(mine.status, 201);
  await completeRun(w);
  await w.settle();
  await w.call("POST", "/trigger/tick");
  assert.equal(receiver.received.length, 1);
  assert.deepEqual(
    (await w.call("GET", "/deploy/notifications/only-failures/deliveries")).body.deliveries,
    [],
  );
  assert.deepEqual(
    (await w.call("GET", "/deploy/notifications/other-flow/deliveries")).body.deliveries,
    [],
  );
  assert.equal(
    (await w.call("GET", "/deploy/notifications/mine/deliveries")).body.deliveries.length,
    1,
  );
});

dbTest("bad notification bodies are 422 with the field named, and change nothing", async (db) => {
  const w = world(db);
  const cases: [Record<string, unknown>, string][] = [
    [{ name: "n", url: "ftp://x", secret: SECRET }, "url"],
    [{ name: "n", url: "http://127.0.0.1/x", secret: "plain" }, "secret"],
    [
      { name: "n", url: "http://127.0.0.1/x", secret: SECRET, events: ["run.started"] },
      "events[0]",
    ],
    [{ name: "bad name!", url: "http://127.0.0.1/x", secret: SECRET }, "name"],
  ];
  for (const [body, path] of cases) {
    const res = await w.call("POST", "/deploy/notifications", body);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.ok(res.body.errors.some((e: any) => e.path === path), JSON.stringify(res.body.errors));
  }
  assert.deepEqual((await w.call("GET", "/deploy/notifications")).body.notifications, []);
  assert.equal((await w.call("GET", "/deploy/notifications/none/deliveries")).status, 404);
});
