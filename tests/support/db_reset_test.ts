/**
 * The PGlite instance a module's tests share is put back to the template
 * between tests (tests/support/pglite_reset.ts): the first test dirties the
 * database every way a test can, the second must find it equal to what the
 * first found at its start — and on the same instance, not a fresh one (the
 * transaction counter tells: a fresh load starts where the dump did).
 */
import assert from "node:assert/strict";
import type { Sql } from "../../shared/db/sql.ts";
import { databaseKinds, dbTest } from "./db.ts";

interface Picture {
  relations: string[];
  routines: string[];
  schemas: string[];
  roles: string[];
  types: string[];
  triggers: string[];
  counts: Record<string, number>;
  seeded: Record<string, string>;
}

async function picture(sql: Sql): Promise<Picture> {
  const list = async (query: Promise<{ v: string }[]>) => (await query).map((r) => r.v);
  const relations = await list(sql<{ v: string }>`
    select c.relkind::text || ' ' || n.nspname || '.' || c.relname as v
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
     order by 1`);
  const routines = await list(sql<{ v: string }>`
    select p.oid::regprocedure::text || ' ' || md5(p.prosrc) as v
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname not in ('pg_catalog', 'information_schema') order by 1`);
  const schemas = await list(
    sql<{ v: string }>`select nspname::text as v from pg_namespace order by 1`,
  );
  const roles = await list(sql<{ v: string }>`select rolname::text as v from pg_roles order by 1`);
  const types = await list(sql<{ v: string }>`
    select t.oid::regtype::text as v from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where n.nspname not in ('pg_catalog', 'information_schema') order by 1`);
  const triggers = await list(sql<{ v: string }>`
    select tgname::text as v from pg_trigger where not tgisinternal order by 1`);
  const tables = await list(sql<{ v: string }>`
    select format('%I.%I', n.nspname, c.relname) as v
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('edgeflow', 'pgmq') and c.relkind = 'r' order by 1`);
  // Row counts and contents of every table (a temporary table carries them: one statement each).
  await sql.exec("create temp table probe_rows (t text, n int, rows text)");
  for (const t of tables) {
    await sql.exec(`insert into probe_rows select '${t}', count(*),
      coalesce(string_agg(r::text, E'\\n' order by r::text), '') from ${t} r`);
  }
  const found = await sql<
    { t: string; n: number; rows: string }
  >`select * from probe_rows order by t`;
  await sql.exec("drop table probe_rows");
  const counts: Record<string, number> = {};
  const seeded: Record<string, string> = {};
  for (const { t, n, rows } of found) {
    counts[t] = n;
    if (n) seeded[t] = rows;
  }
  return { relations, routines, schemas, roles, types, triggers, counts, seeded };
}

let before: Picture | undefined;
let firstXid = 0;
let stray: Sql | undefined;

dbTest("a test dirties the shared database every way it can", async ({ sql }) => {
  before = await picture(sql);
  firstXid = (await sql<{ x: number }>`select txid_current()::int as x`)[0].x;
  assert(Object.keys(before.seeded).length >= 3, "the template seeds a few tables");
  // Rows: seeded ones changed and deleted, new ones in several tables.
  await sql`update edgeflow.pools set description = 'dirty', paused = true`;
  await sql`delete from edgeflow.schema_migrations
             where version = (select max(version) from edgeflow.schema_migrations)`;
  await sql`delete from edgeflow.sweep_cursor`;
  await sql`insert into edgeflow.pools (name) values ('extra')`;
  await sql`insert into edgeflow.flows (name) values ('f')`;
  await sql`insert into edgeflow.maintenance_counters (name, value) values ('c', 5)`;
  // An unlogged table (the rate limit counters) too.
  await sql`insert into edgeflow.rate_limit_windows (key, count, window_end) values ('k', 1, now())`;
  // A pgmq queue (tables, a row in pgmq.meta) with a message in it.
  await sql`select pgmq.create('reset_probe')`;
  await sql`select pgmq.send('reset_probe', '{"a": 1}'::jsonb)`;
  // The engine's clock, an hour ahead.
  await sql`select edgeflow.advance_clock(3600)`;
  // An extra day partition, a table with an identity, a function, a type, a schema, a role, a trigger.
  await sql.exec(`
    create table edgeflow.events_p20991231 partition of edgeflow.events
      for values from ('2099-12-31') to ('2100-01-01');
    create table public.reset_probe (id int generated always as identity, x text);
    insert into public.reset_probe (x) values ('a'), ('b');
    create function public.reset_probe() returns int language sql as 'select 1';
    create schema reset_probe;
    create type reset_probe.mood as enum ('ok');
    create role reset_probe_role;
    create function edgeflow.reset_probe_trigger() returns trigger language plpgsql
      as 'begin return new; end';
    create trigger reset_probe before insert on edgeflow.flows
      for each row execute function edgeflow.reset_probe_trigger();
    create temp table reset_probe_temp (x int);
  `);
  // Session state: a setting, an advisory lock held, a LISTEN, a transaction left open.
  await sql`set work_mem = '7MB'`;
  await sql`select set_config('edgeflow.max_run_depth', '3', false)`;
  await sql`select pg_advisory_lock(4242)`;
  await sql`listen reset_probe`;
  await sql.exec("begin; insert into edgeflow.flows (name) values ('in an open transaction')");
  stray = sql;
}, { only: "pglite" });

dbTest("the next test of the module gets the template's database back", async ({ sql }) => {
  assert(before, "the first test ran");
  const xid = (await sql<{ x: number }>`select txid_current()::int as x`)[0].x;
  assert(
    xid > firstXid + 10,
    `the same instance, reset (xid ${xid} after ${firstXid}), not a fresh one`,
  );
  const after = await picture(sql);
  assert.deepStrictEqual(after, before);
  const [state] = await sql<
    { skew: number; work_mem: string; depth: string | null; locks: number; tz: string }
  >`
    select abs(extract(epoch from edgeflow.now() - now()))::float8 as skew,
           current_setting('work_mem') as work_mem,
           nullif(current_setting('edgeflow.max_run_depth', true), '') as depth,
           (select count(*)::int from pg_locks where locktype = 'advisory') as locks,
           current_setting('timezone') as tz`;
  assert.deepStrictEqual(state, { skew: 0, work_mem: "4MB", depth: null, locks: 0, tz: "UTC" });
  assert.deepStrictEqual(await sql`select * from pg_listening_channels()`, []);
  assert.deepStrictEqual((await sql<{ d: number }>`select edgeflow.max_run_depth() as d`)[0].d, 16);
}, { only: "pglite" });

dbTest("a query after its test's close reaches no database", async () => {
  assert(stray, "the first test ran");
  await assert.rejects(() => stray!`select 1`, /PGlite is closed/);
  await assert.rejects(() => stray!.exec("select 1"), /PGlite is closed/);
  await assert.rejects(() => stray!.begin((tx) => tx`select 1`), /PGlite is closed/);
}, { only: "pglite" });

Deno.test({
  name: "[pglite] a transaction open at the close is refused its next statement",
  // As dbTest's PGlite cases: not in a pass restricted to Postgres (EDGEFLOW_TEST_DATABASES).
  ignore: !databaseKinds().some((k) => k.name === "pglite"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kind = databaseKinds().find((k) => k.name === "pglite")!;
    const first = await kind.open();
    const xid = (await first.sql<{ x: number }>`select txid_current()::int as x`)[0].x;
    let inside = false;
    let proceed!: () => void;
    const gate = new Promise<void>((r) => (proceed = r));
    const running = first.sql.begin(async (tx) => {
      inside = true;
      await tx`insert into edgeflow.flows (name) values ('stray')`;
      await gate;
      await tx`insert into edgeflow.flows (name) values ('stray, after the close')`;
    });
    while (!inside) await new Promise((r) => setTimeout(r, 1));
    const closing = first.close();
    proceed();
    await assert.rejects(() => running, /PGlite is closed/);
    await closing;
    const next = await kind.open();
    try {
      const now = (await next.sql<{ x: number }>`select txid_current()::int as x`)[0].x;
      assert(now > xid, "the same instance");
      assert.deepStrictEqual(await next.sql`select name from edgeflow.flows`, []);
    } finally {
      await next.close();
    }
  },
});
