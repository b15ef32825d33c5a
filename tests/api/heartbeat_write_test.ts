/**
 * A heartbeat writes its worker's row only when something in it changed or
 * the last beat is over a second old (edgeflow.heartbeat, migration 0200):
 * a worker looping beats commits nothing most of the time (nor does a busy
 * worker whose free slots change, migration 0262), and liveness,
 * judged over three intervals, still follows it.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";

dbTest("a heartbeat rewrites its worker only when changed or a second old", async (db) => {
  const { call } = testApp(db);
  const clock = testClock(db.sql);
  const beat = async (body: Record<string, unknown> = {}) => {
    const res = await call("POST", "/heartbeat", {
      worker: "steady",
      pool: "default",
      capacity: 0,
      ...body,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.tasks, []);
    assert.deepEqual(res.body.lost, []);
  };
  // xmin changes with every write of the row; the stamp with every beat that writes.
  const row = async () => {
    const [r] = await db.sql<{ xmin: string; at: string; capacity: number; handlers: unknown }>`
      select xmin::text as xmin, edgeflow.iso(last_heartbeat_at) as at, capacity, handlers
        from edgeflow.workers where name = 'steady'`;
    return r;
  };

  await beat();
  const first = await row();
  await beat();
  await beat();
  assert.deepEqual(await row(), first, "beats within a second leave the row as it was");

  await beat({ capacity: 0, handlers: ["a"] });
  const changed = await row();
  assert.notEqual(changed.xmin, first.xmin, "a changed handler list is written at once");
  assert.deepEqual(changed.handlers, ["a"]);

  await clock.advance(2);
  await beat({ handlers: ["a"] });
  const later = await row();
  assert.notEqual(later.xmin, changed.xmin, "a beat over a second after the last is written");
  assert.ok(Date.parse(later.at) >= Date.parse(changed.at) + 2000, `${later.at} vs ${changed.at}`);

  // A stamp ahead of the engine's clock is not "fresh": the row follows the clock.
  await db.sql`update edgeflow.workers set last_heartbeat_at = edgeflow.now() + interval '1 hour'
                where name = 'steady'`;
  const ahead = await row();
  await beat({ handlers: ["a"] });
  assert.ok(Date.parse((await row()).at) < Date.parse(ahead.at), "stamped by the clock again");
});

dbTest(
  "a busy worker's changing free slots are not rewritten every call; becoming full or draining is",
  async (db) => {
    const { call } = testApp(db);
    const beat = async (capacity: number) => {
      const res = await call("POST", "/heartbeat", { worker: "busy", pool: "default", capacity });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    const row = async () => {
      const [r] = await db.sql<{ xmin: string; capacity: number }>`
        select xmin::text as xmin, capacity from edgeflow.workers where name = 'busy'`;
      return r;
    };
    await beat(3);
    const first = await row();
    await beat(7);
    await beat(1);
    assert.deepEqual(await row(), first, "free slots 3 → 7 → 1 within a second: one write");
    await beat(0);
    const full = await row();
    assert.notEqual(full.xmin, first.xmin, "capacity 0 (full, or draining) is written at once");
    assert.equal(full.capacity, 0);
    await beat(4);
    assert.equal((await row()).capacity, 4, "and so is having room again");
  },
);
