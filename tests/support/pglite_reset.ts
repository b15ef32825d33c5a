/**
 * Putting a PGlite instance back to the state it was loaded in, so that one
 * instance serves every test of a module (see openPglite in db.ts).
 *
 * `snapshot()` records, right after the instance is loaded from the migrated
 * dump: every object in the non-system schemas (schemas, relations, functions,
 * types, triggers, constraints, policies, extensions, roles, event triggers),
 * the rows of the tables that have rows (the migrations seed a few), every
 * sequence's position, and a fingerprint of the catalog (definitions, not just
 * names) and of the data. `reset()` then rolls back what a test left open,
 * clears the session (DISCARD ALL: settings, role, advisory locks, LISTEN,
 * temporary tables, prepared statements, cursors), drops every object the
 * template did not have, truncates every table, re-inserts the seeded rows and
 * puts the sequences back; it checks the fingerprint against the template's
 * and throws when anything differs (a test that altered a template function or
 * column, say): the caller then throws the instance away.
 */
import type { PGlite } from "@electric-sql/pglite";

/** Schemas that are the system's, not the template's. */
const USER_NS = `n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

/**
 * Everything droppable, as (key, drop statement, order). Order: what can hold
 * other objects up goes first, then relations, then what is left on the
 * template's own (triggers, constraints, indexes); every drop is `if exists`
 * (a cascade may have taken it already).
 */
const INVENTORY = `
select 'event trigger ' || quote_ident(evtname) as key,
       format('drop event trigger if exists %I', evtname) as drop, 0 as ord
  from pg_event_trigger
union all
select 'extension ' || quote_ident(extname), format('drop extension if exists %I cascade', extname), 1
  from pg_extension where extname <> 'plpgsql'
union all
select 'schema ' || quote_ident(n.nspname), format('drop schema if exists %I cascade', n.nspname), 2
  from pg_namespace n where ${USER_NS}
union all
select 'trigger ' || format('%I.%I.%I', n.nspname, c.relname, t.tgname),
       format('drop trigger if exists %I on %I.%I', t.tgname, n.nspname, c.relname), 4
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
 where not t.tgisinternal and ${USER_NS}
union all
select 'policy ' || format('%I.%I.%I', n.nspname, c.relname, p.polname),
       format('drop policy if exists %I on %I.%I', p.polname, n.nspname, c.relname), 4
  from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
 where ${USER_NS}
union all
select 'constraint ' || format('%I.%I.%I', n.nspname, c.relname, k.conname),
       format('alter table if exists %I.%I drop constraint if exists %I cascade', n.nspname, c.relname, k.conname), 4
  from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
 where ${USER_NS}
union all
select 'relation ' || format('%I.%I', n.nspname, c.relname),
       format('drop %s if exists %I.%I cascade',
              case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                             when 'S' then 'sequence' when 'f' then 'foreign table'
                             when 'i' then 'index' when 'I' then 'index' when 'c' then 'type'
                             else 'table' end,
              n.nspname, c.relname),
       case c.relkind when 'i' then 5 when 'I' then 5 when 'S' then 3.5 when 'c' then 3.5 else 3 end
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where ${USER_NS} and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I', 'c')
union all
select 'routine ' || p.oid::regprocedure::text,
       format('drop %s if exists %s cascade',
              case p.prokind when 'a' then 'aggregate' when 'p' then 'procedure' else 'function' end,
              p.oid::regprocedure), 7
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${USER_NS}
union all
select 'type ' || format('%I.%I', n.nspname, t.typname),
       format('drop %s if exists %I.%I cascade', case t.typtype when 'd' then 'domain' else 'type' end,
              n.nspname, t.typname), 8
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where ${USER_NS} and t.typtype in ('b', 'd', 'e', 'r') and t.typcategory <> 'A'
union all
select 'role ' || quote_ident(rolname),
       format('drop owned by %I cascade; drop role if exists %I', rolname, rolname), 9
  from pg_roles where rolname !~ '^pg_' and rolname <> current_user
union all
select 'setting ' || coalesce(s.setdatabase::text, '') || '/' || coalesce(s.setrole::text, ''),
       case when s.setrole = 0 then format('alter database %I reset all', d.datname)
            when s.setdatabase = 0 then format('alter role %I reset all', r.rolname)
            else format('alter role %I in database %I reset all', r.rolname, d.datname) end, 10
  from pg_db_role_setting s left join pg_database d on d.oid = s.setdatabase
  left join pg_roles r on r.oid = s.setrole
`;

/** The catalog's definitions, as one text whose md5 is compared. */
const CATALOG = `
select md5(string_agg(line, E'\\n' order by line)) as catalog from (
  select concat_ws(' ', 'ns', n.nspname, n.nspacl, n.nspowner::regrole) as line
    from pg_namespace n where ${USER_NS}
  union all
  select concat_ws(' ', 'rel', c.oid::regclass, c.relkind, c.relpersistence, c.relowner::regrole,
         c.relacl, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
         pg_get_expr(c.relpartbound, c.oid),
         case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end,
         case when c.relkind in ('i', 'I') then pg_get_indexdef(c.oid) end)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${USER_NS}
  union all
  select concat_ws(' ', 'col', a.attrelid::regclass, a.attnum, a.attname,
         format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped, a.attidentity,
         a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attacl)
    from pg_attribute a join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where ${USER_NS} and a.attnum > 0
  union all
  select concat_ws(' ', 'con', k.conrelid::regclass, k.contypid::regtype, k.conname,
         pg_get_constraintdef(k.oid), k.convalidated, k.condeferrable, k.condeferred)
    from pg_constraint k join pg_namespace n on n.oid = k.connamespace where ${USER_NS}
  union all
  select concat_ws(' ', 'trg', pg_get_triggerdef(t.oid), t.tgenabled)
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
   where not t.tgisinternal and ${USER_NS}
  union all
  select concat_ws(' ', 'pol', p.polrelid::regclass, p.polname, p.polcmd, p.polpermissive,
         pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
   where ${USER_NS}
  union all
  select concat_ws(' ', 'fn', p.oid::regprocedure, p.prorettype::regtype, p.prokind, p.provolatile,
         p.proparallel, p.prosecdef, p.proisstrict, p.proconfig, p.proacl, p.proowner::regrole,
         md5(concat(p.prosrc, p.probin)))
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${USER_NS}
  union all
  select concat_ws(' ', 'type', t.oid::regtype, t.typtype, t.typacl,
         (select string_agg(e.enumlabel, ',' order by e.enumsortorder)
            from pg_enum e where e.enumtypid = t.oid),
         (select string_agg(pg_get_constraintdef(k.oid), ',' order by k.conname)
            from pg_constraint k where k.contypid = t.oid))
    from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${USER_NS}
  union all
  select concat_ws(' ', 'role', rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
         rolbypassrls) from pg_roles
  union all
  select concat_ws(' ', 'ext', extname, extversion) from pg_extension
  union all
  select concat_ws(' ', 'evt', evtname, evtevent, evtenabled) from pg_event_trigger
  union all
  select concat_ws(' ', 'setting', setdatabase, setrole, setconfig) from pg_db_role_setting
  union all
  select concat_ws(' ', 'rule', r.ev_class::regclass, r.rulename, pg_get_ruledef(r.oid))
    from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
   where ${USER_NS} and r.rulename <> '_RETURN'
  union all
  select concat_ws(' ', 'count', what, n) from (
    select 'operator' as what, count(*) as n from pg_operator where oid >= 16384
    union all select 'cast', count(*) from pg_cast where oid >= 16384
    union all select 'collation', count(*) from pg_collation where oid >= 16384
    union all select 'publication', count(*) from pg_publication
    union all select 'server', count(*) from pg_foreign_server
    union all select 'default acl', count(*) from pg_default_acl
    union all select 'large object', count(*) from pg_largeobject_metadata
    union all select 'statistics', count(*) from pg_statistic_ext
    union all select 'opclass', count(*) from pg_opclass where oid >= 16384
    union all select 'ts config', count(*) from pg_ts_config where oid >= 16384
  ) counts
) lines`;

/**
 * A cheap signature of the catalog: any DDL inserts, updates or deletes rows
 * of these catalogs, so their row counts and newest xmin change (TRUNCATE
 * rewrites pg_class rows only, whose columns that TRUNCATE leaves alone are
 * hashed instead). The same signature as the template's: no DDL since, so no
 * inventory and no full catalog comparison are needed.
 */
const SIGNATURE = `select concat_ws(' ',
  (select md5(string_agg(concat_ws(' ', oid, relname, relnamespace, relkind, relpersistence, relowner,
          relacl, reloptions, relrowsecurity, relforcerowsecurity, relispartition, reltype, relnatts,
          relchecks, relam, reloftype, relpartbound), ',' order by oid)) from pg_class),
  ${
  [
    "pg_namespace",
    "pg_attribute",
    "pg_attrdef",
    "pg_proc",
    "pg_type",
    "pg_enum",
    "pg_constraint",
    "pg_trigger",
    "pg_index",
    "pg_policy",
    "pg_rewrite",
    "pg_authid",
    "pg_auth_members",
    "pg_extension",
    "pg_event_trigger",
    "pg_db_role_setting",
    "pg_operator",
    "pg_cast",
    "pg_collation",
    "pg_inherits",
    "pg_partitioned_table",
    "pg_sequence",
    "pg_statistic_ext",
    "pg_publication",
    "pg_foreign_server",
    "pg_default_acl",
    "pg_largeobject_metadata",
    "pg_opclass",
    "pg_ts_config",
    "pg_language",
    "pg_aggregate",
    "pg_database",
  ].map((c) =>
    `(select count(*) || '/' || coalesce(max(xmin::text::bigint), 0) from pg_catalog.${c})`
  )
    .join(",\n  ")
}) as signature`;

/** The engine's functions rewritten at run time (see Template.rewritten). */
const REWRITTEN = `select pg_get_functiondef(p.oid) as def
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = 'edgeflow' and p.proname in ('_mq_read', '_mq_delete', '_mq_send', '_mq_set_vt')
 order by p.proname`;

interface Table {
  /** Schema-qualified, quoted. */
  name: string;
  /** Its line in the data check in the template: name, row count, md5 of the rows. */
  line: string;
  /** Rows the template has: the statement that puts them back, and its JSON parameter. */
  seed?: { text: string; rows: string };
}

export interface Template {
  /** Keys of every droppable object the template has. */
  objects: Set<string>;
  /** md5 of the catalog's definitions. */
  catalog: string;
  /** The catalog's cheap signature when last found equal to the template's. */
  signature: string;
  /** Every table that holds rows (partitions included), by name. */
  tables: Map<string, Table>;
  /** Puts every sequence back where it was. */
  sequences: string;
  /**
   * The definitions of the functions the engine rewrites at run time (the
   * static pgmq calls, edgeflow._mq_compile, as a test makes handler queues):
   * put back as they were, not counted as a test having altered the template.
   */
  rewritten: string[];
}

async function rows<T>(db: PGlite, text: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(text, params)).rows;
}

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Each table's line (name, row count, md5 of its rows in a stable order). */
function linesQuery(tables: string[]): string {
  return tables.map((t) =>
    `select ${literal(t)} as name, ${literal(t)} || ' ' || count(*) || ' ' ` +
    `|| coalesce(md5(string_agg(r::text, E'\\n' order by r::text)), '') as line from ${t} r`
  ).join("\nunion all\n");
}

async function lines(db: PGlite, tables: string[]): Promise<Map<string, string>> {
  if (!tables.length) return new Map();
  const found = await rows<{ name: string; line: string }>(db, linesQuery(tables));
  return new Map(found.map((r) => [r.name, r.line]));
}

/** Record the state the instance is in now: what reset() puts back. */
export async function snapshot(db: PGlite): Promise<Template> {
  const objects = new Set((await rows<{ key: string }>(db, INVENTORY)).map((r) => r.key));
  const [{ catalog }] = await rows<{ catalog: string }>(db, CATALOG);
  const [{ signature }] = await rows<{ signature: string }>(db, SIGNATURE);
  // Tables that hold rows themselves: plain tables, partitions included (a
  // partitioned table has none of its own).
  const names = (await rows<{ name: string }>(
    db,
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where ${USER_NS} and c.relkind = 'r'
      order by 1`,
  )).map((r) => r.name);
  const found = await lines(db, names);
  const tables = new Map<string, Table>();
  for (const name of names) {
    const table: Table = { name, line: found.get(name)! };
    tables.set(name, table);
    if (table.line.split(" ")[1] === "0") continue;
    // Generated columns cannot be written; identity ones are, with OVERRIDING SYSTEM VALUE.
    const cols = await rows<{ name: string }>(
      db,
      `select quote_ident(attname) as name from pg_attribute
        where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''
        order by attnum`,
      [name],
    );
    const list = cols.map((c) => c.name).join(", ");
    const [{ rows: json }] = await rows<{ rows: string }>(
      db,
      `select json_agg(r)::text as rows from ${name} r`,
    );
    table.seed = {
      text: `insert into ${name} (${list}) overriding system value ` +
        `select ${list} from json_populate_recordset(null::${name}, $1::json)`,
      rows: json,
    };
  }
  const seqs = await rows<{ seq: string; last_value: string; is_called: boolean }>(
    db,
    `select format('%I.%I', n.nspname, c.relname) as seq
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where ${USER_NS} and c.relkind = 'S' order by 1`,
  );
  const parts: string[] = [];
  for (const { seq } of seqs) {
    const [s] = await rows<{ last_value: string; is_called: boolean }>(
      db,
      `select last_value::text, is_called from ${seq}`,
    );
    parts.push(`setval(${literal(seq)}, ${s.last_value}, ${s.is_called})`);
  }
  const sequences = parts.length ? `select ${parts.join(", ")}` : "select 1";
  const rewritten = (await rows<{ def: string }>(db, REWRITTEN)).map((r) => r.def);
  return { objects, catalog, signature, tables, sequences, rewritten };
}

/** A template as JSON, for a file next to the dump. */
export function serializeTemplate(t: Template): string {
  return JSON.stringify({ ...t, objects: [...t.objects], tables: [...t.tables.entries()] });
}

/** The template from serializeTemplate(), or null when the text is not one. */
export function parseTemplate(text: string): Template | null {
  try {
    const raw = JSON.parse(text);
    if (typeof raw.catalog !== "string" || typeof raw.signature !== "string") return null;
    if (!Array.isArray(raw.rewritten)) return null;
    return { ...raw, objects: new Set(raw.objects), tables: new Map(raw.tables) };
  } catch {
    return null;
  }
}

/** Is the instance's catalog signature the template's? */
export async function sameSignature(db: PGlite, template: Template): Promise<boolean> {
  const [{ signature }] = await rows<{ signature: string }>(db, SIGNATURE);
  return signature === template.signature;
}

/** Timings of the last reset() (ms per phase), for the figures in db.ts. */
export const lastReset: Record<string, number> = {};

/**
 * Put the instance back to `template`; throws when it cannot be, or when the
 * catalog or the data then differ from the template's in any way.
 */
export async function reset(db: PGlite, template: Template): Promise<void> {
  let t0 = performance.now();
  const mark = (phase: string) => {
    const t = performance.now();
    lastReset[phase] = t - t0;
    t0 = t;
  };
  for (const k of Object.keys(lastReset)) delete lastReset[k];
  // A transaction a test opened with exec('begin') and never closed (outside one: a warning).
  await db.exec("rollback");
  // Settings, role, advisory locks, LISTEN, temporary tables, prepared statements, cursors, plans.
  await db.exec("discard all");
  mark("discard");
  const [{ signature }] = await rows<{ signature: string }>(db, SIGNATURE);
  const ddl = signature !== template.signature;
  if (ddl) {
    const present = await rows<{ key: string; drop: string; ord: number }>(db, INVENTORY);
    const extra = present.filter((o) => !template.objects.has(o.key)).sort((a, b) => a.ord - b.ord);
    for (const o of extra) await db.exec(o.drop);
    mark("drops");
  }
  // Planner statistics a test gathered (ANALYZE) on the template's tables (the template has none).
  await db.exec(
    `delete from pg_catalog.pg_statistic where starelid in
       (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${USER_NS})`,
  );
  const names = [...template.tables.keys()];
  const now = await lines(db, names);
  const dirty = names.filter((t) => now.get(t) !== template.tables.get(t)!.line);
  mark("data check");
  if (dirty.length) {
    // The seeded tables always go with them: a cascade may reach them.
    const seeded = names.filter((t) => template.tables.get(t)!.seed);
    const truncate = [...new Set([...dirty, ...seeded])];
    await db.transaction(async (tx) => {
      await tx.exec(`truncate ${truncate.join(", ")} restart identity cascade`);
      // The rows as they were, foreign keys and triggers aside (they held when the rows were made).
      await tx.exec("set local session_replication_role = replica");
      for (const t of seeded) {
        const { seed } = template.tables.get(t)!;
        await tx.query(seed!.text, [seed!.rows]);
      }
    });
    mark("truncate");
    const after = await lines(db, names);
    const wrong = names.filter((t) => after.get(t) !== template.tables.get(t)!.line);
    if (wrong.length) throw new Error(`tables differ from the template's: ${wrong.join(", ")}`);
    mark("data recheck");
  }
  await db.query(template.sequences);
  if (ddl) {
    for (const def of template.rewritten) await db.exec(def);
    const [{ catalog }] = await rows<{ catalog: string }>(db, CATALOG);
    if (catalog !== template.catalog) throw new Error("the catalog differs from the template's");
    // Equal to the template's again: its signature now (new xmins of the drops) stands for it.
    template.signature = (await rows<{ signature: string }>(db, SIGNATURE))[0].signature;
    mark("catalog check");
  }
}
