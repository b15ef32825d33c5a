/**
 * Forward-only migrations: `migrations/NNNN_what.sql`, applied in order, each
 * in its own transaction, recorded with a checksum. A landed migration whose
 * text changed is refused. Two processes migrating at once serialise on an
 * advisory lock and the second finds nothing left to do.
 *
 * A migration may start with `-- edgeflow:skip-if <query>`: when the query
 * returns true the migration is recorded as skipped (used to install our
 * pgmq functions only where the real extension is absent).
 *
 * `pgmq: "compat"` (env `EDGEFLOW_PGMQ=compat`) records the extension
 * migration as skipped, so our own pgmq functions are installed even where
 * the server offers the extension: for a role that may not create
 * extensions, and for CI, which runs the suite on both implementations.
 */
import type { Sql } from "./sql.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

export interface MigrateOptions {
  /** `auto` (default): the real pgmq extension where available; `compat`: always our own. */
  pgmq?: "auto" | "compat";
}

/** The migration that creates the real pgmq extension (skipped in `compat` mode). */
const PGMQ_EXTENSION = "pgmq_extension";

/** `EDGEFLOW_PGMQ` from an environment: `compat`, or `auto` for anything else. */
export function pgmqMode(env: Record<string, string | undefined>): "auto" | "compat" {
  return env.EDGEFLOW_PGMQ === "compat" ? "compat" : "auto";
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

const LOCK = "select pg_advisory_xact_lock(7269, 1)";

/** sha256 hex of a migration's text. */
export async function checksum(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parse `NNNN_name.sql` file names into migrations, sorted by version. */
export function toMigrations(files: { file: string; sql: string }[]): Migration[] {
  const out = files.map(({ file, sql }) => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`bad migration file name: ${file}`);
    return { version: Number(match[1]), name: match[2], sql };
  });
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (i > 0 && out[i - 1].version === m.version) {
      throw new MigrationError(`two migrations numbered ${m.version}`);
    }
  });
  return out;
}

/** Apply pending migrations. */
export async function migrate(
  sql: Sql,
  migrations: Migration[],
  opts: MigrateOptions = {},
): Promise<MigrateResult> {
  if (sql.pooled) {
    throw new MigrationError(
      "this connection goes through a transaction pooler: migrations need a direct connection " +
        "(set EDGEFLOW_DIRECT_URL; see shared/db/database_url.ts)",
    );
  }
  await sql.begin(async (tx) => {
    await tx.exec(LOCK);
    await tx.exec(`create schema if not exists edgeflow;
      create table if not exists edgeflow.schema_migrations (
        version integer primary key, name text not null, checksum text not null,
        skipped boolean not null default false, applied_at timestamptz not null default now())`);
  });
  const sums = new Map<number, string>();
  for (const m of migrations) sums.set(m.version, await checksum(m.sql));

  const known = await sql<{ version: number }>`select version from edgeflow.schema_migrations`;
  const unknown = known.filter((k) => !sums.has(k.version)).map((k) => k.version);
  if (unknown.length) {
    throw new MigrationError(`database has migrations this code does not know: ${unknown}`);
  }

  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    const label = `${String(m.version).padStart(4, "0")}_${m.name}`;
    const outcome = await sql.begin(async (tx) => {
      // A migration may rewrite a big table: the clients' statement timeout is not for it.
      await tx.exec(`set local statement_timeout = 0; ${LOCK}`);
      const [done] = await tx<{ checksum: string }>`
        select checksum from edgeflow.schema_migrations where version = ${m.version}`;
      if (done) {
        if (done.checksum !== sums.get(m.version)) {
          throw new MigrationError(`migration ${label} changed after it was applied`);
        }
        return "done";
      }
      const skipIf = /^-- edgeflow:skip-if (.+)$/m.exec(m.sql.split("\n", 1)[0]);
      let skip = opts.pgmq === "compat" && m.name === PGMQ_EXTENSION;
      if (skipIf && !skip) {
        // The condition is our own SQL from the file, never input.
        await tx.exec(
          `create temp table edgeflow_skip on commit drop as select (${skipIf[1]}) as v`,
        );
        const [row] = await tx<{ v: boolean }>`select v from edgeflow_skip`;
        skip = row?.v === true;
      }
      if (!skip) await tx.exec(m.sql);
      await tx`insert into edgeflow.schema_migrations (version, name, checksum, skipped)
               values (${m.version}, ${m.name}, ${sums.get(m.version)}, ${skip})`;
      return skip ? "skipped" : "applied";
    });
    if (outcome === "applied") result.applied.push(label);
    if (outcome === "skipped") result.skipped.push(label);
  }
  return result;
}
