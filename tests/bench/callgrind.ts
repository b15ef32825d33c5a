/**
 * What the instruction-count harnesses share (tests/bench/events_cpu.ts,
 * tests/bench/task_doc_cpu.ts): a scratch database with unbounded statements
 * (under valgrind a migration takes minutes) and the instructions of an
 * exited backend, from the file callgrind wrote at its exit
 * (`valgrind --tool=callgrind --callgrind-out-file=DIR/callgrind.out.%p`).
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";

/** One connection, no statement or idle timeout, a long connect timeout. */
export const UNBOUNDED = {
  max: 1,
  statementTimeoutMs: 0,
  connectTimeoutMs: 120_000,
  idleTimeout: 0,
};

export interface ScratchDatabase {
  name: string;
  url: string;
  /** A connection to the scratch database. */
  admin: Sql;
  /** Close `admin` and drop the database (unless `keep`). */
  close(keep?: boolean): Promise<void>;
}

/** Make `<prefix>_<random>` on the server of `serverUrl`. */
export async function scratchDatabase(serverUrl: string, prefix: string): Promise<ScratchDatabase> {
  // Our own name, never input: safe to put in the statement.
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const root = postgresSql(serverUrl, UNBOUNDED);
  await root.exec(`create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const admin = postgresSql(url.toString(), UNBOUNDED);
  return {
    name,
    url: url.toString(),
    admin,
    async close(keep = false) {
      try {
        await admin.end();
        if (!keep) await root.exec(`drop database if exists "${name}" with (force)`);
      } finally {
        await root.end();
      }
    },
  };
}

/** The instructions of an exited backend (waits up to a minute for callgrind's file). */
export async function callgrindInstructions(dir: string, pid: number): Promise<number> {
  const file = `${dir}/callgrind.out.${pid}`;
  for (let i = 0; i < 600; i++) {
    const total = (await Deno.readTextFile(file).catch(() => "")).match(/^totals: (\d+)/m);
    if (total) return Number(total[1]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no totals in ${file}`);
}
