/**
 * The timing rules of the heartbeat loop, as pure functions and with a
 * hand-driven clock: no real time passes in these tests.
 */
import assert from "node:assert/strict";
import { BeatTimer } from "../../shared/worker/beat_timer.ts";
import type { Clock } from "../../shared/worker/deps.ts";
import {
  type BeatState,
  leaseAfterBeat,
  leaseFromClaim,
  MIN_BEAT_MS,
  nextBeatDelay,
} from "../../shared/worker/schedule.ts";

const idle: BeatState = {
  now: 1_000_000,
  heartbeatMs: 10_000,
  idlePollMs: 10_000,
  held: 0,
  freeSlots: 4,
  gotTasks: 0,
  leaseExpiries: [],
  stopping: false,
};

Deno.test("an idle worker polls at the idle interval (pollSeconds overrides the server's)", () => {
  assert.equal(nextBeatDelay(idle), 10_000);
  assert.equal(nextBeatDelay({ ...idle, idlePollMs: 2_000 }), 2_000);
});

Deno.test("a worker that just got tasks and has free slots polls again at once", () => {
  assert.equal(nextBeatDelay({ ...idle, gotTasks: 2, held: 2, freeSlots: 2 }), 0);
  // Full: the next task comes when a slot frees, not from polling.
  assert.equal(nextBeatDelay({ ...idle, gotTasks: 4, held: 4, freeSlots: 0 }), 10_000);
});

Deno.test("a busy worker beats at heartbeat_seconds, not at the idle poll interval", () => {
  assert.equal(nextBeatDelay({ ...idle, held: 1, freeSlots: 3, idlePollMs: 60_000 }), 10_000);
});

Deno.test("the next beat comes before half of the shortest remaining lease", () => {
  const now = idle.now;
  const s = { ...idle, held: 2, leaseExpiries: [now + 30_000, now + 6_000, null] };
  assert.equal(nextBeatDelay(s), 3_000);
  // Nearly expired: as soon as allowed, never a busy loop.
  assert.equal(nextBeatDelay({ ...s, leaseExpiries: [now + 10] }), MIN_BEAT_MS);
  // Leases without expiry (flows with heartbeats off) do not bound the interval.
  assert.equal(nextBeatDelay({ ...s, leaseExpiries: [null] }), 10_000);
});

Deno.test("a stopping worker beats only while it holds leases, and never claims", () => {
  assert.equal(nextBeatDelay({ ...idle, stopping: true, freeSlots: 0 }), null);
  const held = { ...idle, stopping: true, held: 1, freeSlots: 0, gotTasks: 1 };
  assert.equal(nextBeatDelay(held), 10_000);
});

Deno.test("a claimed lease is measured from when the answer arrived", () => {
  const at = Date.parse("2026-11-22T10:00:30.000Z");
  const beat = { sentAt: at - 30_200, receivedAt: at - 30_000, leaseSeconds: 60 };
  assert.deepEqual(leaseFromClaim("2026-11-22T10:00:30.000Z", beat), {
    expiresAt: at,
    lengthMs: 30_000,
  });
  assert.deepEqual(leaseFromClaim(null, beat), { expiresAt: null, lengthMs: null });
  // A server that leaves the field out: lease_seconds, counted from the request.
  assert.deepEqual(leaseFromClaim(undefined, beat), {
    expiresAt: beat.sentAt + 60_000,
    lengthMs: 60_000,
  });
});

Deno.test("after a kept beat at least half a lease remains", () => {
  const lease = { expiresAt: 30_000, lengthMs: 30_000 };
  assert.deepEqual(leaseAfterBeat(lease, 10_000), lease); // 20 s left: more than half
  assert.equal(leaseAfterBeat(lease, 20_000).expiresAt, 35_000);
  assert.deepEqual(leaseAfterBeat({ expiresAt: null, lengthMs: null }, 5), {
    expiresAt: null,
    lengthMs: null,
  });
});

/** A clock whose time moves only when the test says. */
function manualClock() {
  let now = 0, next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => (timers.set(next, { at: now + ms, fn }), next++),
    clearTimeout: (h) => void timers.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [h, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(h);
        t.fn();
      }
    }
  };
  return { clock, advance, pending: () => timers.size };
}

Deno.test("requests for a beat coalesce into the earliest one", () => {
  const { clock, advance, pending } = manualClock();
  let fired = 0;
  const timer = new BeatTimer(clock, () => fired++);
  timer.request(10_000);
  timer.request(2);
  timer.request(2);
  timer.request(5_000);
  assert.equal(pending(), 1);
  advance(2);
  assert.equal(fired, 1);
  assert.equal(pending(), 0);
});

Deno.test("requests while a beat is in flight wait for it, then win if sooner", () => {
  const { clock, advance } = manualClock();
  let fired = 0;
  const timer = new BeatTimer(clock, () => fired++);
  timer.hold();
  timer.request(2); // a slot freed during the beat
  advance(10);
  assert.equal(fired, 0); // never two beats on the wire
  timer.settle(10_000);
  advance(0);
  assert.equal(fired, 1);
  timer.close();
  timer.request(1);
  advance(5);
  assert.equal(fired, 1);
});
