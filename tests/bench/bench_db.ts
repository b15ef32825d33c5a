/**
 * The benchmark's own database: created fresh on the server of
 * `DATABASE_URL`, migrated, and dropped at the end (`with (force)`, so
 * clients still connected after an error or Ctrl-C do not keep it alive).
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";

export interface BenchDatabase {
  name: string;
  url: string;
  /** Drop the database; safe to call more than once. */
  drop(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  // Our own name, never input: safe to put in the statement.
  const name = `edgeflow_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgresSql(serverUrl, { max: 1 });
  await admin.exec(`create database "${name}"`);
  let dropping: Promise<void> | undefined;
  const db: BenchDatabase = {
    name,
    url: withDatabase(serverUrl, name),
    drop: () =>
      dropping ??= (async () => {
        try {
          await admin.exec(`drop database if exists "${name}" with (force)`);
        } finally {
          await admin.end();
        }
      })(),
  };
  try {
    const sql = postgresSql(db.url, { max: 1 });
    try {
      await migrate(sql, await loadMigrations());
    } finally {
      await sql.end();
    }
  } catch (err) {
    await db.drop();
    throw err;
  }
  return db;
}
