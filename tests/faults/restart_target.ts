/**
 * The Postgres the restart fault tests restart, and whether they run: with
 * EDGEFLOW_FAULT_RESTART set (or under CI). By default a private server
 * (private_postgres.ts), migrated, so other test files running in parallel
 * on the machine's server are not cut off; EDGEFLOW_FAULT_RESTART=shared
 * restarts the machine's own cluster with pg_ctlcluster instead.
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { databaseKinds } from "../support/db.ts";
import {
  type RestartablePostgres,
  sharedPostgres,
  startPrivatePostgres,
} from "./private_postgres.ts";

const mode = Deno.env.get("EDGEFLOW_FAULT_RESTART");

export const restartTestsEnabled = Boolean(mode || Deno.env.get("CI"));

/** A migrated Postgres that can be restarted and crash-stopped; `dispose` when done. */
export async function restartTarget(): Promise<RestartablePostgres & { dispose(): Promise<void> }> {
  if (mode === "shared") {
    const kind = databaseKinds().find((k) => k.name === "postgres");
    if (!kind) throw new Error("EDGEFLOW_FAULT_RESTART=shared needs DATABASE_URL");
    const db = await kind.open();
    const pg = await sharedPostgres(db.url!);
    return { ...pg, dispose: () => db.close() };
  }
  const pg = await startPrivatePostgres();
  const sql = postgresSql(pg.url, { max: 1 });
  try {
    await migrate(sql, await loadMigrations());
  } finally {
    await sql.end();
  }
  return { ...pg, dispose: () => pg.close() };
}
