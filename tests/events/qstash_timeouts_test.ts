// deno-lint-ignore-file no-explicit-any
/**
 * Wait timeouts from QStash delayed messages (issue 16), with the real
 * `@upstash/qstash` client against the local look-alike that signs its
 * deliveries as QStash does: a wait begun by a request gets one delayed
 * message at its timeout; the signed delivery fires it once; an early one
 * asks to be delivered again; a forged one is refused; an event that came
 * first wins and the message then does nothing; the tick stays the fallback.
 * Time is the engine's movable clock. On PGlite and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { startQstashServer } from "../support/qstash_server.ts";
import { qstashApp } from "../support/qstash_app.ts";
import { claimTasks } from "../../shared/engine/tasks.ts";
import { ORDER_FLOW } from "./helpers.ts";
import { type EventDocument, processEvent } from "../../shared/engine/events.ts";

async function world(db: TestDatabase, qstash: Awaited<ReturnType<typeof startQstashServer>>) {
  const { app, clock, call, settle } = qstashApp(db, qstash);
  /** A run of the order flow whose `charge` completed over HTTP: its `paid` step waits. */
  const waitingRun = async (order: string) => {
    const run = (await call("POST", "/trigger/flows/order", { parameters: { order_id: order } }))
      .body.run_id;
    const claimed = await claimTasks(db.sql, "default", ["charge"], 10);
    const task = claimed.find((t) => t.run_id === run)!;
    const done = await call("POST", `/heartbeat/tasks/${task.task}/complete`, {
      lease: task.lease,
      output: null,
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    await settle();
    return run as string;
  };
  const status = async (run: string) => (await call("GET", `/trigger/runs/${run}`)).body.status;
  await call("POST", "/register", ORDER_FLOW({ timeout: 600 }));
  return { app, call, clock, settle, waitingRun, status };
}

const wakeOf = (qstash: any, run: string) =>
  [...qstash.messages.values()].find((m: any) => JSON.parse(m.body).run_id === run);

dbTest(
  "a wait's timeout fires from its signed QStash message, once; early or forged does nothing",
  async (db) => {
    await using qstash = await startQstashServer();
    const w = await world(db, qstash);
    const run = await w.waitingRun("o1");
    assert.equal(await w.status(run), "WAITING");

    const message = wakeOf(qstash, run);
    assert.ok(message, "one delayed message for the wait");
    assert.equal(qstash.messages.size, 1);
    assert.equal(message.destination, "http://edgeflow.test/trigger/waits/timeouts");
    const [wait] = await db.sql<{ at: number; created: number }>`
    select extract(epoch from timeout_at)::float8 as at, extract(epoch from created_at)::float8 as created
      from edgeflow.waits where run_id = ${run}::uuid`;
    assert.equal(message.notBefore, String(Math.floor(wait.at)));
    assert.match(message.deduplicationId, new RegExp(`^wait-${run}-paid-`));
    // Later requests publish nothing more for it.
    await w.call("POST", "/trigger/events", { name: "other", key: "x" });
    await w.settle();
    assert.equal(qstash.messages.size, 1);

    const deliver = (opts = {}) =>
      qstash.deliver(message.messageId, { fetch: w.app.fetch, ...opts });
    const early = await deliver();
    assert.equal(early.status, 503, "delivered before its time by our clock: QStash should retry");
    assert.equal(await w.status(run), "WAITING");
    const forged = await deliver({ key: "not-the-key" });
    assert.equal(forged.status, 401);

    await w.clock.advance(601);
    const forgedLate = await deliver({ key: "not-the-key" });
    assert.equal(forgedLate.status, 401);
    assert.equal(await w.status(run), "WAITING", "a forged message fires nothing");
    const fired = await deliver({ redelivery: true });
    assert.equal(fired.status, 200, fired.body);
    assert.equal(JSON.parse(fired.body).timeouts, 1);
    const doc = (await w.call("GET", `/trigger/runs/${run}`)).body;
    assert.equal(doc.status, "FAILED");
    assert.equal(doc.steps[1].error.code, "wait_timeout");

    const again = await deliver({ redelivery: true });
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).timeouts, 0, "at most once");
    const tick = await w.call("POST", "/trigger/tick");
    assert.equal(tick.body.events.timeouts, 0);
  },
);

dbTest("an event before the timeout wins; its QStash message then does nothing", async (db) => {
  await using qstash = await startQstashServer();
  const w = await world(db, qstash);
  const run = await w.waitingRun("o2");
  const message = wakeOf(qstash, run);
  const ev = await w.call("POST", "/trigger/events", {
    name: "order.paid",
    key: "o2",
    payload: { status: "ok" },
  });
  assert.equal(ev.body.runs_resumed, 1);
  await w.clock.advance(601);
  const late = await qstash.deliver(message.messageId, { fetch: w.app.fetch });
  assert.equal(late.status, 200, late.body);
  assert.equal(JSON.parse(late.body).timeouts, 0);
  const doc = (await w.call("GET", `/trigger/runs/${run}`)).body;
  assert.equal(doc.steps[1].status, "COMPLETED");
  assert.deepEqual(doc.steps[1].output, { status: "ok" });
});

dbTest(
  "an event and its QStash timeout racing: exactly one wins, for each of 20 waits",
  async (db) => {
    await using qstash = await startQstashServer();
    const w = await world(db, qstash);
    const runs: string[] = [];
    for (let i = 0; i < 20; i++) runs.push(await w.waitingRun(`r${i}`));
    // Each event is recorded in time (599 s) but processed only after the timeout has passed, at
    // the same moment as the QStash message fires: both may claim the wait, one delete decides.
    await w.clock.advance(599);
    const events: EventDocument[] = [];
    for (let i = 0; i < 20; i++) {
      const [row] = await db.sql<{ r: { event: EventDocument } }>`
      select edgeflow.record_event('order.paid', ${`r${i}`}, '{"status":"ok"}'::jsonb) as r`;
      events.push(row.r.event);
    }
    await w.clock.advance(2);
    const messages = runs.map((r) => wakeOf(qstash, r));
    const outcomes = await Promise.all(runs.map(async (run, i) => {
      const [effects, first] = await Promise.all([
        processEvent(db.sql, events[i]),
        qstash.deliver(messages[i].messageId, { fetch: w.app.fetch }),
      ]);
      let fired = first;
      // 503: the wait was still open (its run locked by the event just then): QStash retries.
      // Bounded, as QStash's own retries are: a wait that stays locked fails here, not by hanging.
      for (let retry = 0; fired.status === 503; retry++) {
        assert.ok(retry < 50, `still 503 after ${retry} redeliveries: ${fired.body}`);
        fired = await qstash.deliver(messages[i].messageId, {
          fetch: w.app.fetch,
          redelivery: true,
        });
      }
      assert.equal(fired.status, 200, fired.body);
      return { run, resumed: effects.runs_resumed, timeouts: JSON.parse(fired.body).timeouts };
    }));
    const wins = { event: 0, timeout: 0 };
    for (const o of outcomes) {
      const doc = (await w.call("GET", `/trigger/runs/${o.run}`)).body;
      const paid = doc.steps[1];
      if (o.resumed === 1) {
        wins.event++;
        assert.equal(paid.status, "COMPLETED", JSON.stringify(doc));
      } else {
        wins.timeout++;
        assert.equal(paid.status, "FAILED", JSON.stringify(doc));
        assert.equal(paid.error.code, "wait_timeout");
      }
    }
    // One message may fire several due waits, and one answered 503 (its own wait locked by its
    // event just then) may have fired others' before it said so: the 200s count at most all of
    // them. That each wait ended once is in the event log: one FAILED per timed-out step.
    const fired = outcomes.reduce((n, o) => n + o.timeouts, 0);
    assert.ok(fired <= wins.timeout, `${fired} timeouts reported, ${wins.timeout} waits timed out`);
    const [ended] = await db.sql<{ failed: number; completed: number }>`
      select count(*) filter (where to_status = 'FAILED')::int as failed,
             count(*) filter (where to_status = 'COMPLETED')::int as completed
        from edgeflow.event_log where kind = 'step' and step = 'paid'`;
    assert.deepEqual(
      ended,
      { failed: wins.timeout, completed: wins.event },
      "each wait ended once: by its event or by its timeout",
    );
    assert.equal(wins.event + wins.timeout, 20);
    console.log(`racing event vs QStash timeout: ${JSON.stringify(wins)}`);
    const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.waits`;
    assert.equal(n, 0);
  },
);

dbTest(
  "the tick publishes wake-ups for waits begun outside a request, and still fires timeouts",
  async (db) => {
    await using qstash = await startQstashServer();
    const w = await world(db, qstash);
    const run = await w.waitingRun("o3");
    await db.sql`update edgeflow.waits set wake_sent_at = null`;
    const tick = await w.call("POST", "/trigger/tick");
    assert.equal(tick.body.events.wakeups_published, 1);
    assert.equal((await w.call("POST", "/trigger/tick")).body.events.wakeups_published, 0);
    // QStash never delivers: the tick fires the timeout by itself.
    await w.clock.advance(601);
    assert.equal((await w.call("POST", "/trigger/tick")).body.events.timeouts, 1);
    assert.equal(await w.status(run), "FAILED");
  },
);
