import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { migrate, MigrationError } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";

dbTest("a migration re-run is a no-op", async ({ sql }) => {
  const migrations = await loadMigrations();
  assert.deepEqual(await migrate(sql, migrations), { applied: [], skipped: [] });
  const rows = await sql<{ version: number }>`select version from edgeflow.schema_migrations`;
  assert.equal(rows.length, migrations.length);
});

dbTest("a landed migration that changed is refused", async ({ sql }) => {
  const migrations = await loadMigrations();
  const tampered = migrations.map((m, i) => i === 2 ? { ...m, sql: m.sql + "\n-- edited" } : m);
  await assert.rejects(migrate(sql, tampered), MigrationError);
});

dbTest(
  "pgmq comes from the extension where there is one, else from our functions",
  async ({ sql }) => {
    const [row] = await sql<{ ext: boolean; skipped: boolean }>`
    select exists (select 1 from pg_extension where extname = 'pgmq') as ext,
           (select skipped from edgeflow.schema_migrations where version = 2) as skipped`;
    assert.equal(row.skipped, row.ext);
    const [q] = await sql<{ n: number }>`
    select count(*)::int as n from pgmq.meta where queue_name like 'ef_%'`;
    assert.equal(typeof q.n, "number");
  },
);

dbTest("two processes migrating at once both succeed, once", async ({ url }) => {
  const { postgresSql } = await import("../../shared/db/postgres.ts");
  const base = new URL(url!);
  const fresh = `ef_mig_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgresSql(url!, { max: 1 });
  await admin.exec(`create database ${fresh}`);
  base.pathname = `/${fresh}`;
  const a = postgresSql(base.toString(), { max: 2 });
  const b = postgresSql(base.toString(), { max: 2 });
  try {
    const migrations = await loadMigrations();
    const [ra, rb] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
    assert.equal(
      ra.applied.length + rb.applied.length + ra.skipped.length + rb.skipped.length,
      migrations.length,
    );
  } finally {
    await a.end();
    await b.end();
    await admin.exec(`drop database ${fresh} with (force)`);
    await admin.end();
  }
}, { only: "postgres" });
