/** `deno task migrate`: apply pending migrations to DATABASE_URL (or PGlite). */
import { connectFromEnv } from "../shared/runtime/connect.ts";
import { loadMigrations } from "../shared/runtime/migrations_fs.ts";
import { migrate, pgmqMode } from "../shared/db/migrate.ts";

const sql = await connectFromEnv();
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
