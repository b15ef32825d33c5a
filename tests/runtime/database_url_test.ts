/**
 * Which database a function and a migration use (shared/db/database_url.ts,
 * shared/runtime/connect.ts): DATABASE_URL or SUPABASE_DB_URL, poolers
 * recognised, migrations kept off them, and no silent PGlite outside dev.
 */
import assert from "node:assert/strict";
import { classifyUrl, functionsDatabase, migrationDatabase } from "../../shared/db/database_url.ts";
import { connectFromEnv } from "../../shared/runtime/connect.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";
import { configFromEnv } from "../../shared/app/deps.ts";
import { edgeWaitUntil } from "../../shared/runtime/background.ts";

const DIRECT = "postgres://postgres:pw@db.abc.supabase.co:5432/postgres";
const POOLER = "postgres://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres";

Deno.test("DATABASE_URL wins over SUPABASE_DB_URL; either alone is used", () => {
  assert.deepEqual(functionsDatabase({ DATABASE_URL: POOLER, SUPABASE_DB_URL: DIRECT }), {
    url: POOLER,
    pooled: true,
    source: "DATABASE_URL",
  });
  assert.deepEqual(functionsDatabase({ SUPABASE_DB_URL: DIRECT }), {
    url: DIRECT,
    pooled: false,
    source: "SUPABASE_DB_URL",
  });
  assert.equal(functionsDatabase({}), null);
});

Deno.test("a pooler is recognised by port 6543, ?pgbouncer=true or EDGEFLOW_DB_POOLER", () => {
  assert.equal(classifyUrl(POOLER, "DATABASE_URL").pooled, true);
  const flagged = classifyUrl(
    "postgres://u@127.0.0.1:6432/db?pgbouncer=true&sslmode=disable",
    "DATABASE_URL",
  );
  assert.equal(flagged.pooled, true);
  // The flag is ours (and Prisma's): Postgres would refuse it as a startup parameter.
  assert.equal(flagged.url, "postgres://u@127.0.0.1:6432/db?sslmode=disable");
  assert.equal(
    classifyUrl("postgres://u@h:6432/db", "DATABASE_URL", { EDGEFLOW_DB_POOLER: "transaction" })
      .pooled,
    true,
  );
  assert.equal(classifyUrl(POOLER, "DATABASE_URL", { EDGEFLOW_DB_POOLER: "off" }).pooled, false);
  assert.equal(classifyUrl(DIRECT, "DATABASE_URL").pooled, false);
});

Deno.test("migrations take EDGEFLOW_DIRECT_URL, else a direct URL, and refuse a pooler alone", () => {
  assert.equal(
    migrationDatabase({ DATABASE_URL: POOLER, EDGEFLOW_DIRECT_URL: DIRECT })?.url,
    DIRECT,
  );
  assert.equal(migrationDatabase({ DATABASE_URL: POOLER, SUPABASE_DB_URL: DIRECT })?.url, DIRECT);
  assert.throws(
    () => migrationDatabase({ DATABASE_URL: POOLER }),
    /DATABASE_URL points at a transaction pooler.*EDGEFLOW_DIRECT_URL.*Direct connection/s,
  );
  assert.throws(
    () => migrationDatabase({ EDGEFLOW_DIRECT_URL: POOLER }),
    /EDGEFLOW_DIRECT_URL points at a transaction pooler/,
  );
  assert.equal(migrationDatabase({}), null);
});

Deno.test("outside the dev server a missing database URL stops the start", async () => {
  const env = { EDGEFLOW_ADMIN_KEY: "k".repeat(32) };
  await assert.rejects(() => denoDeps(env), /no database: set DATABASE_URL \(or SUPABASE_DB_URL\)/);
  await assert.rejects(() => connectFromEnv({}), /does not fall back to embedded PGlite/);
  // The dev server (and an explicit data dir) still get PGlite.
  const local = await connectFromEnv({ EDGEFLOW_DATA_DIR: "memory" });
  assert.equal(local.driver, "pglite");
  await local.end();
});

Deno.test("a pooled client says so, and migrate() refuses it before touching the database", async () => {
  const sql = await connectFromEnv({ DATABASE_URL: "postgres://u@127.0.0.1:1/db?pgbouncer=true" });
  assert.equal(sql.pooled, true);
  const { migrate } = await import("../../shared/db/migrate.ts");
  await assert.rejects(
    () => migrate(sql, []),
    /transaction pooler: migrations need a direct connection/,
  );
  await sql.end();
});

Deno.test("the long-poll ceiling: 20 s by default, configurable, never near the 150 s limit", () => {
  assert.equal(configFromEnv({}).longPollMaxSeconds, 20);
  assert.equal(configFromEnv({ EDGEFLOW_LONG_POLL_MAX_SECONDS: "55" }).longPollMaxSeconds, 55);
  assert.throws(() => configFromEnv({ EDGEFLOW_LONG_POLL_MAX_SECONDS: "150" }), /from 0 to 120/);
});

Deno.test("on Supabase (SUPABASE_URL set) dashboard links carry /functions/v1", () => {
  assert.equal(
    configFromEnv({ SUPABASE_URL: "https://abc.supabase.co" }).pathPrefix,
    "/functions/v1",
  );
  assert.equal(configFromEnv({ EDGEFLOW_PATH_PREFIX: "/api/" }).pathPrefix, "/api");
  assert.equal(configFromEnv({}).pathPrefix, undefined);
});

Deno.test("background work goes to EdgeRuntime.waitUntil where the runtime has it", async () => {
  assert.equal(edgeWaitUntil(), undefined, "plain Deno: the caller awaits");
  const kept: Promise<unknown>[] = [];
  const g = globalThis as { EdgeRuntime?: unknown };
  g.EdgeRuntime = { waitUntil: (p: Promise<unknown>) => void kept.push(p) };
  try {
    edgeWaitUntil()!(Promise.resolve(7));
    assert.equal(kept.length, 1);
    assert.equal(await kept[0], 7);
  } finally {
    delete g.EdgeRuntime;
  }
});
