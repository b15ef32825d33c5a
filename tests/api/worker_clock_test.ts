/**
 * A worker's heartbeat times come from the engine's clock (edgeflow.now()),
 * as every other time does: a new worker under a moved clock is ONLINE from
 * its first beat, and goes OFFLINE when the clock passes three intervals.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";

dbTest("a worker's first heartbeat is stamped by the engine's clock", async (db) => {
  const { call } = testApp(db);
  const clock = testClock(db.sql);
  const moved = await clock.advance(3600);
  const beat = await call("POST", "/heartbeat", {
    worker: "clocked",
    pool: "default",
    capacity: 0,
  });
  assert.equal(beat.status, 200, JSON.stringify(beat.body));
  const listed = async () =>
    (await call("GET", "/heartbeat/workers")).body.workers.find((w: { name: string }) =>
      w.name === "clocked"
    );
  const first = await listed();
  assert.equal(first.status, "ONLINE");
  // Stamped an hour ahead of the wall clock, where the engine's clock is.
  assert.ok(
    Math.abs(Date.parse(first.first_heartbeat_at) - moved.getTime()) < 60_000,
    `${first.first_heartbeat_at} vs ${moved.toISOString()}`,
  );
  assert.equal(first.last_heartbeat_at, first.first_heartbeat_at);
  await clock.advance(3 * (first.heartbeat_seconds as number) + 1);
  assert.equal((await listed()).status, "OFFLINE");
});
