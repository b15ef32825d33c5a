/**
 * When to send the next heartbeat — pure functions, so the rules are tested
 * without timers.
 *
 * The rules, in order of precedence:
 * 1. Stopping with nothing held: no more beats (`stop()` sends the last one).
 * 2. Free slots and the last beat brought tasks: beat again at once — there
 *    is probably a backlog, and waiting a whole interval per batch would make
 *    a queue of N tasks take N/capacity intervals.
 * 3. Otherwise wait the interval: the server's `heartbeat_seconds` while
 *    tasks are held, the idle poll interval (`pollSeconds`, default the same)
 *    when not.
 * 4. But never longer than half the shortest remaining lease, so a slow or
 *    failed beat still leaves time for another before a lease runs out.
 *
 * A slot freed by a finished task asks for a beat "soon" (see `SOON_MS`);
 * that is the worker's job, not this module's.
 */

/** A freed slot triggers a beat this soon: finishes within the window share one beat. */
export const SOON_MS = 2;

/** Never beat more often than this, even for a lease about to expire (no busy loop). */
export const MIN_BEAT_MS = 50;

/** The state `nextBeatDelay` decides on. */
export interface BeatState {
  now: number;
  /** The server's `heartbeat_seconds`, in ms. */
  heartbeatMs: number;
  /** The idle poll interval in ms (`pollSeconds`, or `heartbeatMs`). */
  idlePollMs: number;
  /** Tasks held: queued, running or reporting. */
  held: number;
  /** Slots free for new tasks (0 while stopping). */
  freeSlots: number;
  /** Tasks the last beat brought. */
  gotTasks: number;
  /** Local estimates of when held leases expire (ms); null: no expiry. */
  leaseExpiries: (number | null)[];
  stopping: boolean;
}

/** Milliseconds until the next heartbeat, or null when none is needed. */
export function nextBeatDelay(s: BeatState): number | null {
  if (s.stopping && s.held === 0) return null;
  if (!s.stopping && s.freeSlots > 0 && s.gotTasks > 0) return 0;
  const interval = s.held > 0 ? s.heartbeatMs : s.idlePollMs;
  return Math.min(interval, leaseBoundMs(s.now, s.leaseExpiries));
}

/** Half the shortest remaining lease (at least `MIN_BEAT_MS`); Infinity without leases. */
export function leaseBoundMs(now: number, expiries: (number | null)[]): number {
  let bound = Infinity;
  for (const at of expiries) {
    if (at !== null) bound = Math.min(bound, (at - now) / 2);
  }
  return bound === Infinity ? bound : Math.max(MIN_BEAT_MS, Math.floor(bound));
}

/** What the worker knows about one lease, in local milliseconds. */
export interface LeaseClock {
  /** When the lease expires, estimated conservatively; null: never (heartbeats off). */
  expiresAt: number | null;
  /** The lease's length, as first seen; null with `expiresAt`. */
  lengthMs: number | null;
}

/**
 * The lease of a freshly claimed task. `lease_expires_at` is in the
 * server's clock; measuring its length from when the answer arrived (not
 * when the request left) errs on the short side. Clocks must agree to
 * within a fraction of a lease — any NTP-synchronised pair does. `null`
 * means the flow runs without heartbeats (the lease never expires); a
 * server that omits the field gets the answer's `lease_seconds`, counted
 * from when the request left.
 */
export function leaseFromClaim(
  leaseExpiresAt: string | null | undefined,
  beat: { sentAt: number; receivedAt: number; leaseSeconds: number },
): LeaseClock {
  if (leaseExpiresAt === undefined) {
    if (!(beat.leaseSeconds > 0)) return { expiresAt: null, lengthMs: null };
    const lengthMs = beat.leaseSeconds * 1000;
    return { expiresAt: beat.sentAt + lengthMs, lengthMs };
  }
  const at = leaseExpiresAt === null ? NaN : Date.parse(leaseExpiresAt);
  if (Number.isNaN(at)) return { expiresAt: null, lengthMs: null };
  return { expiresAt: at, lengthMs: Math.max(0, at - beat.receivedAt) };
}

/**
 * The lease after a beat sent at `sentAt` kept it (it was neither lost nor
 * cancelled). The answer does not say the new expiry; the server extends a
 * lease back to its full length once less than half is left, so after any
 * accepted beat at least half a lease remains from `sentAt`. Assuming only
 * that is right for a server that extends on every beat too.
 */
export function leaseAfterBeat(lease: LeaseClock, sentAt: number): LeaseClock {
  if (lease.expiresAt === null || lease.lengthMs === null) return lease;
  return { ...lease, expiresAt: Math.max(lease.expiresAt, sentAt + lease.lengthMs / 2) };
}
