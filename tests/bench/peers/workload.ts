/**
 * The one workload every system in the peer benchmark runs: `chains` chains
 * of three steps (a → b → c), started beforehand, driven to completion by
 * `workers` concurrent workers that take up to `batch` tasks per call; the
 * figure is steps completed ÷ seconds from the first claim to the last
 * completion. Each peer module turns this into its own native cycle.
 */
import postgres from "postgres";

export interface Workload {
  chains: number;
  workers: number;
  batch: number;
}

export const STEPS_PER_CHAIN = 3;

export interface PeerResult {
  steps: number;
  seconds: number;
  perSecond: number;
}

/** A peer under test: set up once, then measured any number of rounds. */
export interface Peer {
  name: string;
  /** One line on how this peer's worker cycle runs. */
  cycle: string;
  /** Why it cannot run here, or null. */
  unavailable(): Promise<string | null>;
  setup(): Promise<void>;
  measure(w: Workload): Promise<PeerResult>;
  close(): Promise<void>;
}

export function result(steps: number, startedAt: number, endedAt: number): PeerResult {
  const seconds = (endedAt - startedAt) / 1000;
  return { steps, seconds, perSecond: steps / seconds };
}

/** `url` with another database name. */
export function databaseUrl(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A throw-away database on the server of `serverUrl`, dropped by `drop()`. */
export async function scratchDatabase(
  serverUrl: string,
  prefix: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  // Our own name, never input: safe inside the statement.
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = postgres(databaseUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  return {
    url: databaseUrl(serverUrl, name),
    drop: async () => {
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Whether the server can `create extension pgmq` (the real one). */
export async function hasPgmqExtension(serverUrl: string): Promise<boolean> {
  const sql = postgres(databaseUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_catalog.pg_available_extensions where name = 'pgmq'`;
    return rows.length > 0;
  } finally {
    await sql.end();
  }
}

/** Resolves when `done()` reports `target`; rejects when nothing moves for `stallMs`. */
export function progressGate(target: number, stallMs = 60_000) {
  let count = 0;
  let last = performance.now();
  let resolve!: () => void, reject!: (e: Error) => void;
  const finished = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setInterval(() => {
    if (performance.now() - last > stallMs) {
      clearInterval(timer);
      reject(new Error(`stalled at ${count} of ${target} steps`));
    }
  }, 1000);
  return {
    finished: finished.finally(() => clearInterval(timer)),
    get count() {
      return count;
    },
    get done() {
      return count >= target;
    },
    /** Count `n` completed steps. */
    add(n: number) {
      count += n;
      last = performance.now();
      if (count >= target) resolve();
    },
    fail(err: unknown) {
      reject(err instanceof Error ? err : new Error(String(err)));
    },
  };
}
