/**
 * `deno task migrate`: apply pending migrations over a direct connection —
 * `EDGEFLOW_DIRECT_URL`, else `DATABASE_URL`/`SUPABASE_DB_URL` unless it is a
 * transaction pooler (refused, with the fix in the message) — or to the
 * local PGlite when no URL is set.
 */
import { connectFromEnv } from "../shared/runtime/connect.ts";
import { loadMigrations } from "../shared/runtime/migrations_fs.ts";
import { migrate, pgmqMode } from "../shared/db/migrate.ts";

let sql;
try {
  sql = await connectFromEnv(Deno.env.toObject(), { local: true, migrations: true });
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  Deno.exit(2);
}
try {
  const result = await migrate(sql, await loadMigrations(), {
    pgmq: pgmqMode(Deno.env.toObject()),
  });
  for (const m of result.applied) console.log(`applied  ${m}`);
  for (const m of result.skipped) console.log(`skipped  ${m}`);
  if (!result.applied.length && !result.skipped.length) console.log("up to date");
} finally {
  await sql.end();
}
