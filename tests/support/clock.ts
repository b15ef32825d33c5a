/**
 * The engine's clock in tests: `edgeflow.now()` is the database's now() plus a
 * shift that only moves forward. Advancing it makes leases expire, retries and
 * start delays come due and schedules fire without sleeping (pgmq's messages
 * are made visible that much earlier too: edgeflow.advance_clock).
 *
 * Each test has a database of its own, so a test's clock moves only its own
 * engine. TypeScript that takes `now` (schedules, sessions) gets `clock.now`,
 * which follows the same shift.
 */
import type { Sql } from "../../shared/db/sql.ts";

export interface TestClock {
  /** The engine's time as the database sees it now. */
  read(): Promise<Date>;
  /** Move the engine's clock forward; resolves to its new time. */
  advance(seconds: number): Promise<Date>;
  /** Wall time plus the shift so far: for TypeScript deps that take `now`. */
  now(): Date;
}

export function testClock(sql: Sql): TestClock {
  let shiftMs = 0;
  return {
    async read() {
      const [{ t }] = await sql<{ t: string }>`select edgeflow.now()::text as t`;
      return new Date(t);
    },
    async advance(seconds: number) {
      const [{ t }] = await sql<
        { t: string }
      >`select edgeflow.advance_clock(${seconds})::text as t`;
      shiftMs += seconds * 1000;
      return new Date(t);
    },
    now: () => new Date(Date.now() + shiftMs),
  };
}

/** Shorthand for one advance. */
export async function advanceClock(sql: Sql, seconds: number): Promise<Date> {
  return await testClock(sql).advance(seconds);
}
