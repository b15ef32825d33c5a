/**
 * Pick the database from the environment: `DATABASE_URL` → postgres.js,
 * otherwise embedded PGlite in `EDGEFLOW_DATA_DIR` (default `.edgeflow/`),
 * or in memory when the data dir is `memory`. Deno only; Workers build their
 * client from the Hyperdrive binding or `DATABASE_URL` directly.
 */
import type { Sql } from "../db/sql.ts";
import { postgresSql, postgresTimeoutsFromEnv } from "../db/postgres.ts";

export async function connectFromEnv(env = Deno.env.toObject()): Promise<Sql> {
  if (env.DATABASE_URL) return postgresSql(env.DATABASE_URL, postgresTimeoutsFromEnv(env));
  // Imported lazily: PGlite's wasm is only loaded where it is used.
  const { pgliteSql } = await import("../db/pglite.ts");
  const dir = env.EDGEFLOW_DATA_DIR ?? ".edgeflow/pgdata";
  return pgliteSql(dir === "memory" ? undefined : dir);
}
