/**
 * Empty databases to build a schema in: a fresh in-memory PGlite, or a new
 * database on the Postgres server of `url` (dropped again by `close`).
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import type { Sql } from "../../shared/db/sql.ts";
import { fromPglite } from "../../shared/db/pglite.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { checksum, migrate, type Migration } from "../../shared/db/migrate.ts";
import { applyTree, type SourceFile } from "./tree.ts";

export interface EmptyDatabase {
  sql: Sql;
  close(): Promise<void>;
}

export async function emptyPglite(): Promise<EmptyDatabase> {
  const sql = await fromPglite(await PGlite.create());
  return { sql, close: () => sql.end() };
}

export async function emptyPostgres(url: string): Promise<EmptyDatabase> {
  const base = new URL(url).pathname.slice(1) || "postgres";
  const name = `${base}_sql_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const sql = postgresSql(u.toString(), { max: 1 });
  return {
    sql,
    close: async () => {
      await sql.end();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

export type Kind = "pglite" | "postgres";

export function emptyDatabase(kind: Kind, url?: string): Promise<EmptyDatabase> {
  if (kind === "postgres") {
    if (!url) throw new Error("postgres needs DATABASE_URL");
    return emptyPostgres(url);
  }
  return emptyPglite();
}

const templates = new Map<string, Promise<PGlite>>();

async function keyOf(migrations: Migration[]): Promise<string> {
  return await checksum(migrations.map((m) => `${m.version}\n${m.sql}`).join("\n"));
}

/**
 * A migrated PGlite, cloned from one built earlier in this process for the
 * same migrations (or for all but the last, which is then applied).
 */
async function migratedPglite(migrations: Migration[]): Promise<EmptyDatabase> {
  const key = await keyOf(migrations);
  let template = templates.get(key);
  if (!template) {
    const prefix = templates.get(await keyOf(migrations.slice(0, -1)));
    template = (async () => {
      const db = prefix ? (await (await prefix).clone()) as PGlite : await PGlite.create();
      await migrate(await fromPglite(db), migrations);
      return db;
    })();
    templates.set(key, template);
    template.catch(() => templates.delete(key));
  }
  const sql = await fromPglite((await (await template).clone()) as PGlite);
  return { sql, close: () => sql.end() };
}

/** A database built by the migrations. */
export async function fromMigrations(
  kind: Kind,
  migrations: Migration[],
  url?: string,
): Promise<EmptyDatabase> {
  if (kind === "pglite") return await migratedPglite(migrations);
  const db = await emptyDatabase(kind, url);
  try {
    await migrate(db.sql, migrations);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** A database built by the source tree. */
export async function fromTree(
  kind: Kind,
  files: SourceFile[],
  url?: string,
): Promise<EmptyDatabase> {
  const db = await emptyDatabase(kind, url);
  try {
    await applyTree(db.sql, files);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** Close the migrated PGlite templates this process kept (a CLI exits after). */
export async function closeTemplates(): Promise<void> {
  const all = [...templates.values()];
  templates.clear();
  for (const t of all) await (await t.catch(() => undefined))?.close();
}
