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

dbTest("EDGEFLOW_PGMQ=compat installs our pgmq even where the extension is offered", async ({
  url,
}) => {
  const { postgresSql } = await import("../../shared/db/postgres.ts");
  const admin = postgresSql(url!, { max: 1 });
  const fresh = `ef_compat_${crypto.randomUUID().slice(0, 8)}`;
  await admin.exec(`create database ${fresh}`);
  const target = new URL(url!);
  target.pathname = `/${fresh}`;
  const sql = postgresSql(target.toString(), { max: 1 });
  try {
    const result = await migrate(sql, await loadMigrations(), { pgmq: "compat" });
    assert.ok(result.skipped.includes("0001_pgmq_extension"));
    assert.ok(!result.skipped.includes("0002_pgmq_compat"));
    const [row] = await sql<{ ext: boolean; ours: boolean }>`
      select exists (select 1 from pg_extension where extname = 'pgmq') as ext,
             exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                      where n.nspname = 'pgmq' and p.proname = 'send') as ours`;
    assert.deepEqual(row, { ext: false, ours: true });
    await sql`select pgmq.create('compat_probe')`;
    await sql`select pgmq.send('compat_probe', '{"a":1}'::jsonb)`;
    const [m] = await sql<
      { message: unknown }
    >`select message from pgmq.read('compat_probe', 30, 1)`;
    assert.deepEqual(m.message, { a: 1 });
  } finally {
    await sql.end();
    await admin.exec(`drop database if exists ${fresh} with (force)`);
    await admin.end();
  }
}, { only: "postgres" });
