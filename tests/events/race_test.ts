/**
 * An event and its wait's timeout racing (issue 16): each wait ends once,
 * by the event or by the timeout, never both. Events are recorded before
 * the timeout; the clock then passes it, and their processing races ticks
 * firing the same timeouts, all at once on Postgres (PGlite has one
 * connection: nothing races there).
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { emitEvent, processEvent } from "../../shared/engine/events.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import type { EventDocument } from "../../shared/engine/events.ts";
import { register, start } from "./helpers.ts";

const RUNS = 40;
const ROUNDS = 5;
const TICKS = 4;

dbTest("an event and its timeout racing: exactly one wins, once", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  const clock = testClock(sql);
  await register(call, {
    name: "race",
    steps: [
      { slug: "paid", wait: { event: "paid", key: "{{ run.order }}", timeout: 60 } },
      { slug: "after", depends_on: ["paid"] },
    ],
  });
  const wins = { event: 0, timeout: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const runs: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(await start(call, "race", { order: `r${round}-${i}` }));
    }
    await clock.advance(59);
    const events: EventDocument[] = [];
    for (let i = 0; i < RUNS; i++) {
      const [{ r }] = await sql<{ r: { event: EventDocument } }>`
        select edgeflow.record_event('paid', ${`r${round}-${i}`}, ${
        JSON.stringify({ i })
      }::jsonb) as r`;
      events.push(r.event);
    }
    await clock.advance(2);
    // Every event's processing and several ticks, at once.
    const results = await Promise.all([
      ...events.map((e) => processEvent(sql, e).then((x) => x.runs_resumed)),
      ...Array.from(
        { length: TICKS },
        () => sql<{ n: number }>`select edgeflow.fire_wait_timeouts() as n`.then(([r]) => -r.n),
      ),
    ]);
    // A tick skips a run locked by an event right then: one more finishes them.
    const [{ n: rest }] = await sql<{ n: number }>`select edgeflow.fire_wait_timeouts() as n`;
    const byEvent = results.filter((x) => x > 0).reduce((a, b) => a + b, 0);
    const byTimeout = -results.filter((x) => x < 0).reduce((a, b) => a + b, 0) + rest;
    assert.equal(byEvent + byTimeout, RUNS, `round ${round}: every wait ended exactly once`);

    const outcomes = await sql<{ status: string; ended: number }>`
      select ss.status,
             (select count(*)::int from edgeflow.event_log e
               where e.run_id = ss.run_id and e.kind = 'step' and e.step = 'paid'
                 and e.from_status = 'WAITING') as ended
        from edgeflow.step_states ss
       where ss.slug = 'paid' and ss.run_id = any(${runs}::uuid[])`;
    assert.equal(outcomes.length, RUNS);
    for (const o of outcomes) assert.equal(o.ended, 1, "one transition out of WAITING per wait");
    assert.equal(outcomes.filter((o) => o.status === "COMPLETED").length, byEvent);
    assert.equal(outcomes.filter((o) => o.status === "FAILED").length, byTimeout);
    const [{ n }] = await sql<{ n: number }>`
      select count(*)::int as n from edgeflow.waits where run_id = any(${runs}::uuid[])`;
    assert.equal(n, 0);
    wins.event += byEvent;
    wins.timeout += byTimeout;
  }
  console.log(
    `${ROUNDS * RUNS} races: ${wins.event} won by the event, ${wins.timeout} by the timeout`,
  );
}, { only: "postgres" });

dbTest(
  "an event racing its wait's beginning: never missed, never twice, no deadlock",
  async (db) => {
    const { sql } = db;
    const { call } = testApp(db);
    await register(call, {
      name: "begin",
      steps: [
        { slug: "charge" },
        {
          slug: "paid",
          depends_on: ["charge"],
          wait: { event: "paid", key: "{{ run.order }}", timeout: 600, lookback: 600 },
        },
      ],
    });
    const runs: string[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await start(call, "begin", { order: `b${i}` }));
    const claimed = await claimTasks(sql, "default", null, RUNS);
    assert.equal(claimed.length, RUNS);
    // Each run's completion (which begins its wait) and its event, at once.
    const order = new Map(runs.map((id, i) => [id, i]));
    await Promise.all([
      ...claimed.map((t) => completeTask(sql, t.task, t.lease, null)),
      ...claimed.map((t) =>
        emitEvent(sql, { name: "paid", key: `b${order.get(t.run_id)}`, payload: { ok: true } })
      ),
    ]);
    const rows = await sql<{ status: string; output: unknown }>`
    select status, output from edgeflow.step_states
     where slug = 'paid' and run_id = any(${runs}::uuid[])`;
    assert.deepEqual(rows.map((r) => r.status), Array(RUNS).fill("COMPLETED"));
    const [{ n }] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.waits`;
    assert.equal(n, 0);
  },
  { only: "postgres" },
);
