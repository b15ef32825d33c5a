/**
 * Pick the database from the environment (shared/db/database_url.ts):
 * `DATABASE_URL`, else `SUPABASE_DB_URL` → postgres.js (without named
 * prepared statements behind a transaction pooler). Without either, embedded
 * PGlite in `EDGEFLOW_DATA_DIR` (`memory`: in memory) — but only where that
 * is a deliberate choice: the local dev server, `deno task migrate`, or an
 * explicit `EDGEFLOW_DATA_DIR`. Anywhere else (a deployed function) a
 * missing URL stops the start. Deno only; Workers build their client from
 * the Hyperdrive binding or `DATABASE_URL` directly.
 */
import type { Sql } from "../db/sql.ts";
import { postgresSql, postgresTimeoutsFromEnv } from "../db/postgres.ts";
import {
  type DatabaseTarget,
  functionsDatabase,
  migrationDatabase,
  missingDatabaseMessage,
} from "../db/database_url.ts";

export interface ConnectOptions {
  /** The local dev server or a local tool: no URL means the embedded PGlite. */
  local?: boolean;
  /** For migrations: a direct connection (`EDGEFLOW_DIRECT_URL`); a pooler alone is refused. */
  migrations?: boolean;
}

export async function connectFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  options: ConnectOptions = {},
): Promise<Sql> {
  const target: DatabaseTarget | null = options.migrations
    ? migrationDatabase(env)
    : functionsDatabase(env);
  if (target) {
    return postgresSql(target.url, { pooled: target.pooled, ...postgresTimeoutsFromEnv(env) });
  }
  if (!options.local && !env.EDGEFLOW_DATA_DIR) throw new Error(missingDatabaseMessage());
  // Imported lazily: PGlite's wasm is only loaded where it is used.
  const { pgliteSql } = await import("../db/pglite.ts");
  const dir = env.EDGEFLOW_DATA_DIR ?? ".edgeflow/pgdata";
  return pgliteSql(dir === "memory" ? undefined : dir);
}
