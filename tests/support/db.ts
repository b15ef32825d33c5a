/**
 * Test databases. Every test gets a database of its own, already migrated:
 * - PGlite, always: a clone of one migrated in-memory instance per process;
 * - Postgres, when DATABASE_URL is set: `create database … template …` from a
 *   template migrated once per set of migrations (graphile-worker's trick),
 *   dropped again when the test ends.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import type { Sql } from "../../shared/db/sql.ts";
import { fromPglite } from "../../shared/db/pglite.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { checksum, migrate, pgmqMode } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";

export interface TestDatabase {
  sql: Sql;
  /** Connection URL (Postgres only): for second clients, servers, workers. */
  url?: string;
  close(): Promise<void>;
}

export interface DatabaseKind {
  name: "pglite" | "postgres";
  open(): Promise<TestDatabase>;
}

let pgliteTemplate: Promise<PGlite> | undefined;

async function openPglite(): Promise<TestDatabase> {
  pgliteTemplate ??= (async () => {
    const db = await PGlite.create();
    await migrate(await fromPglite(db), await loadMigrations());
    return db;
  })();
  const clone = (await (await pgliteTemplate).clone()) as PGlite;
  const sql = await fromPglite(clone);
  return { sql, close: () => sql.end() };
}

let postgresTemplate: Promise<string> | undefined;

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function buildTemplate(url: string): Promise<string> {
  const migrations = await loadMigrations();
  const sum = (await checksum(migrations.map((m) => m.sql).join("\n"))).slice(0, 10);
  const base = new URL(url).pathname.slice(1) || "postgres";
  const mode = pgmqMode(Deno.env.toObject());
  const name = `${base}_tpl_${sum}${mode === "compat" ? "_compat" : ""}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Processes of one test run race to build it: one builds, others wait.
    await admin`select pg_advisory_lock(7269, 2)`;
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      await admin.unsafe(`create database "${name}"`);
      const sql = postgresSql(withDatabase(url, name), { max: 1 });
      try {
        await migrate(sql, migrations, { pgmq: mode });
      } finally {
        await sql.end();
      }
    }
    await admin`select pg_advisory_unlock(7269, 2)`;
  } finally {
    await admin.end();
  }
  return name;
}

async function openPostgres(url: string): Promise<TestDatabase> {
  postgresTemplate ??= buildTemplate(url);
  const template = await postgresTemplate;
  const name = `${template.replace(/_tpl_.*/, "")}_t${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}" template "${template}"`);
  const dbUrl = withDatabase(url, name);
  const sql = postgresSql(dbUrl, { max: 10 });
  return {
    sql,
    url: dbUrl,
    close: async () => {
      await sql.end();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** The databases every database test runs against. */
export function databaseKinds(): DatabaseKind[] {
  const kinds: DatabaseKind[] = [{ name: "pglite", open: openPglite }];
  const url = Deno.env.get("DATABASE_URL");
  if (url) kinds.push({ name: "postgres", open: () => openPostgres(url) });
  // EDGEFLOW_TEST_DATABASES=postgres: a second pass of the suite (CI's run on
  // the other pgmq implementation) need not repeat the PGlite tests.
  const only = Deno.env.get("EDGEFLOW_TEST_DATABASES")?.split(",");
  return only ? kinds.filter((k) => only.includes(k.name)) : kinds;
}

/** Declare one test per database kind; the database is closed afterwards. */
export function dbTest(
  name: string,
  fn: (db: TestDatabase, kind: DatabaseKind["name"]) => Promise<void>,
  options: { only?: DatabaseKind["name"] } = {},
): void {
  for (const kind of databaseKinds()) {
    if (options.only && options.only !== kind.name) continue;
    Deno.test({
      name: `[${kind.name}] ${name}`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const db = await kind.open();
        try {
          await fn(db, kind.name);
        } finally {
          await db.close();
        }
      },
    });
  }
}
