/**
 * What a database holds, read from the catalog: the engine's tables, types,
 * functions, triggers and seed rows in the schemas `edgeflow` and `pgmq`.
 *
 * Two uses: the bootstrap writes the source tree from it (`ddl*` below), and
 * the schema test / migration generator compare two databases through
 * `flatten` (object key → canonical text). Every name is printed with an
 * empty search_path, so definitions come out schema-qualified.
 *
 * Left out on purpose: `edgeflow.schema_migrations` (the runner's own table),
 * pgmq's per-queue tables `pgmq.q_*` / `pgmq.a_*` (made by `pgmq.create`, so
 * the seed data names the queues instead) and objects that belong to an
 * extension (the real pgmq, when installed).
 *
 * Partitions are data, not definition (the maintenance pass creates and drops
 * them by date), so only a partitioned table and its DEFAULT partition are
 * read; the other partitions are left out like pgmq's queue tables.
 */
import type { Sql } from "../../shared/db/sql.ts";

export const SCHEMAS = ["edgeflow", "pgmq"];

export interface Column {
  name: string;
  type: string;
  notnull: boolean;
  default: string | null;
  identity: string; // '' | 'a' (always) | 'd' (by default)
  /** The identity's increment (1 unless set otherwise). */
  increment?: number;
  generated: string; // '' | 's' (stored)
}
export interface Constraint {
  name: string;
  kind: string; // p u c f x
  def: string;
  references?: string; // schema.table for foreign keys
}
export interface Table {
  schema: string;
  name: string;
  unlogged: boolean;
  rls: boolean;
  acl: string | null;
  /** Storage parameters (`with (fillfactor=70)`), as pg_class.reloptions lists them; null: none. */
  options?: string[] | null;
  columns: Column[];
  constraints: Constraint[];
  indexes: { name: string; def: string }[];
  /** `RANGE (at)` for a partitioned table (`partition by …`), else null. */
  partitionKey?: string | null;
  /** For the DEFAULT partition of a partitioned table: the parent (schema.table). */
  partitionOf?: string | null;
}
export interface TypeDef {
  schema: string;
  name: string;
  ddl: string;
}
export interface SequenceDef {
  schema: string;
  name: string;
  ddl: string;
  ownedBy: string | null; // schema.table.column of a serial column
}
export interface ViewDef {
  schema: string;
  name: string;
  ddl: string;
}
export interface FunctionDef {
  schema: string;
  name: string;
  args: string; // identity arguments
  def: string; // pg_get_functiondef, without the final semicolon
  result: string; // pg_get_function_result
  trigger: boolean; // returns trigger
  language: string;
  acl: string | null;
}
export interface TriggerDef {
  schema: string;
  table: string;
  name: string;
  def: string;
  timing: "before" | "after" | "instead of";
  level: "row" | "statement";
  events: string[];
  function: string; // schema.name
}
export interface TableData {
  schema: string;
  table: string;
  columns: string[];
  rows: string[][]; // SQL literals (quote_nullable of the text form)
}
export interface Catalog {
  extensions: string[];
  tables: Table[];
  types: TypeDef[];
  sequences: SequenceDef[];
  views: ViewDef[];
  functions: FunctionDef[];
  triggers: TriggerDef[];
  data: TableData[];
  queues: string[];
}

const NOT_EXTENSION = (cls: string, oid: string) =>
  `not exists (select 1 from pg_catalog.pg_depend d where d.classid = '${cls}'::regclass
     and d.objid = ${oid} and d.deptype = 'e')`;

const SCHEMA_LIST = SCHEMAS.map((s) => `'${s}'`).join(", ");

/** Tables the catalog leaves out (see the file comment). */
const SKIP_TABLE = `not ((n.nspname = 'edgeflow' and c.relname = 'schema_migrations')
  or (n.nspname = 'pgmq' and c.relname ~ '^[qa]_')
  or (c.relispartition and pg_catalog.pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'))`;

/** Read everything the source tree describes from one database. */
export async function readCatalog(sql: Sql): Promise<Catalog> {
  return await sql.begin(async (tx) => {
    await tx.exec("set local search_path = ''");
    return await read(tx);
  });
}

async function read(sql: Sql): Promise<Catalog> {
  const extensions = (await sql<{ extname: string }>`
    select extname from pg_catalog.pg_extension where extname <> 'plpgsql' order by 1`)
    .map((r) => r.extname);

  const rels = await query<{
    oid: number;
    schema: string;
    name: string;
    relkind: string;
    relpersistence: string;
    relrowsecurity: boolean;
    acl: string | null;
    reloptions: string[] | null;
    partkey: string | null;
    parent: string | null;
  }>(
    sql,
    `
    select c.oid::int as oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
           c.relpersistence::text as relpersistence, c.relrowsecurity, c.relacl::text as acl,
           c.reloptions::text[] as reloptions,
           case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as partkey,
           (select pn.nspname || '.' || pc.relname from pg_catalog.pg_inherits i
              join pg_catalog.pg_class pc on pc.oid = i.inhparent
              join pg_catalog.pg_namespace pn on pn.oid = pc.relnamespace
             where c.relispartition and i.inhrelid = c.oid) as parent
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname in (${SCHEMA_LIST}) and c.relkind in ('r', 'p', 'v', 'm')
      and ${SKIP_TABLE} and ${NOT_EXTENSION("pg_class", "c.oid")}
    order by n.nspname, c.relname`,
  );

  const columns = await query<
    Column & { rel: number }
  >(
    sql,
    `
    select a.attrelid::int as rel, a.attname as name,
           pg_catalog.format_type(a.atttypid, a.atttypmod) ||
             case when a.attcollation <> t.typcollation and a.attcollation <> 0
               then ' collate ' || pg_catalog.quote_ident(co.collname) else '' end as type,
           a.attnotnull as notnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) as default,
           a.attidentity::text as identity, a.attgenerated::text as generated,
           (select s.seqincrement::int from pg_catalog.pg_depend dp
              join pg_catalog.pg_sequence s on s.seqrelid = dp.objid
             where dp.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
               and dp.refobjid = a.attrelid and dp.refobjsubid = a.attnum
               and dp.deptype = 'i') as increment
    from pg_catalog.pg_attribute a
    join pg_catalog.pg_type t on t.oid = a.atttypid
    left join pg_catalog.pg_collation co on co.oid = a.attcollation
    left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid in (select c.oid from pg_catalog.pg_class c
                         join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                         where n.nspname in (${SCHEMA_LIST}) and c.relkind in ('r', 'p'))
      and a.attnum > 0 and not a.attisdropped
    order by a.attrelid, a.attnum`,
  );

  const constraints = await query<Constraint & { rel: number; references: string | null }>(
    sql,
    `
    select c.conrelid::int as rel, c.conname as name, c.contype::text as kind,
           pg_catalog.pg_get_constraintdef(c.oid) as def,
           case when c.contype = 'f' then fn.nspname || '.' || fc.relname end as references
    from pg_catalog.pg_constraint c
    left join pg_catalog.pg_class fc on fc.oid = c.confrelid
    left join pg_catalog.pg_namespace fn on fn.oid = fc.relnamespace
    where c.conrelid <> 0 and c.contype in ('p', 'u', 'c', 'f', 'x')
    order by c.conrelid, position(c.contype::text in 'pucxf'), c.conname`,
  );

  const indexes = await query<{ rel: number; name: string; def: string }>(
    sql,
    `
    select i.indrelid::int as rel, ic.relname as name,
           replace(pg_catalog.pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') as def
    from pg_catalog.pg_index i join pg_catalog.pg_class ic on ic.oid = i.indexrelid
    where not exists (select 1 from pg_catalog.pg_constraint c where c.conindid = i.indexrelid
                        and c.conrelid = i.indrelid and c.contype in ('p', 'u', 'x'))
    order by i.indrelid, ic.relname`,
  );

  const tables: Table[] = [];
  const views: ViewDef[] = [];
  for (const r of rels) {
    if (r.relkind === "v" || r.relkind === "m") {
      const [v] = await query<{ def: string }>(
        sql,
        `select pg_catalog.pg_get_viewdef(${r.oid}::oid, true) as def`,
      );
      const kind = r.relkind === "m" ? "materialized view" : "or replace view";
      views.push({
        schema: r.schema,
        name: r.name,
        ddl: `create ${kind} ${r.schema}.${r.name} as\n${v.def.trimEnd().replace(/;$/, "")};`,
      });
      continue;
    }
    if (r.parent) {
      // A DEFAULT partition: its columns, constraints and indexes are the parent's.
      tables.push({
        schema: r.schema,
        name: r.name,
        unlogged: r.relpersistence === "u",
        rls: r.relrowsecurity,
        acl: r.acl,
        columns: [],
        constraints: [],
        indexes: [],
        partitionOf: r.parent,
      });
      continue;
    }
    tables.push({
      partitionKey: r.partkey,
      schema: r.schema,
      name: r.name,
      unlogged: r.relpersistence === "u",
      rls: r.relrowsecurity,
      acl: r.acl,
      options: r.reloptions?.length ? [...r.reloptions].sort() : null,
      columns: columns.filter((c) => c.rel === r.oid).map(({ rel: _, ...c }) => c),
      constraints: constraints.filter((c) => c.rel === r.oid).map(({ rel: _, references, ...c }) =>
        references ? { ...c, references } : c
      ),
      indexes: indexes.filter((i) => i.rel === r.oid).map(({ name, def }) => ({ name, def })),
    });
  }

  const types = await readTypes(sql);
  const sequences = await query<SequenceDef>(
    sql,
    `
    select n.nspname as schema, c.relname as name,
           'create sequence ' || n.nspname || '.' || c.relname ||
             ' as ' || pg_catalog.format_type(s.seqtypid, null) ||
             ' increment by ' || s.seqincrement || ' minvalue ' || s.seqmin ||
             ' maxvalue ' || s.seqmax || ' start with ' || s.seqstart ||
             ' cache ' || s.seqcache || case when s.seqcycle then ' cycle' else '' end || ';' as ddl,
           (select tn.nspname || '.' || tc.relname || '.' || a.attname
            from pg_catalog.pg_depend d
            join pg_catalog.pg_class tc on tc.oid = d.refobjid
            join pg_catalog.pg_namespace tn on tn.oid = tc.relnamespace
            join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
            where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'a'
            limit 1) as "ownedBy"
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_sequence s on s.seqrelid = c.oid
    where n.nspname in (${SCHEMA_LIST}) and c.relkind = 'S'
      and ${NOT_EXTENSION("pg_class", "c.oid")}
      and not exists (select 1 from pg_catalog.pg_depend d where d.classid = 'pg_class'::regclass
                        and d.objid = c.oid and d.deptype = 'i')
      and not (n.nspname = 'pgmq' and c.relname ~ '^[qa]_')
    order by 1, 2`,
  );

  const functions = await query<FunctionDef>(
    sql,
    `
    select n.nspname as schema, p.proname as name,
           pg_catalog.pg_get_function_identity_arguments(p.oid) as args,
           pg_catalog.pg_get_functiondef(p.oid) as def,
           pg_catalog.pg_get_function_result(p.oid) as result,
           p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype as trigger,
           l.lanname as language, p.proacl::text as acl
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_language l on l.oid = p.prolang
    where n.nspname in (${SCHEMA_LIST}) and p.prokind in ('f', 'p')
      and ${NOT_EXTENSION("pg_proc", "p.oid")}
    order by 1, 2, 3`,
  );
  for (const f of functions) f.def = f.def.trimEnd();

  const triggers = (await query<{
    schema: string;
    table: string;
    name: string;
    def: string;
    tgtype: number;
    function: string;
  }>(
    sql,
    `
    select n.nspname as schema, c.relname as "table", t.tgname as name,
           pg_catalog.pg_get_triggerdef(t.oid) as def, t.tgtype::int as tgtype,
           fn.nspname || '.' || f.proname as function
    from pg_catalog.pg_trigger t
    join pg_catalog.pg_class c on c.oid = t.tgrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_proc f on f.oid = t.tgfoid
    join pg_catalog.pg_namespace fn on fn.oid = f.pronamespace
    where n.nspname in (${SCHEMA_LIST}) and not t.tgisinternal and ${SKIP_TABLE}
    order by 1, 2, 3`,
  )).map(({ tgtype, ...t }) => ({
    ...t,
    // tgtype bits: 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate, 64 instead
    timing: (tgtype & 64 ? "instead of" : tgtype & 2 ? "before" : "after") as TriggerDef["timing"],
    level: (tgtype & 1 ? "row" : "statement") as TriggerDef["level"],
    events: [[4, "insert"], [16, "update"], [8, "delete"], [32, "truncate"]]
      .filter(([bit]) => tgtype & (bit as number)).map(([, e]) => e as string),
  }));

  const data: TableData[] = [];
  for (const t of tables) {
    const cols = t.columns.filter((c) => !seedIgnored(c));
    if (!cols.length) continue;
    const list = cols.map((c) => `pg_catalog.quote_nullable(${ident(c.name)}::text)`).join(", ");
    const rows = await query<{ v: string[] }>(
      sql,
      `select array[${list}] as v from ${t.schema}.${ident(t.name)} order by 1`,
    );
    if (rows.length) {
      data.push({
        schema: t.schema,
        table: t.name,
        columns: cols.map((c) => c.name),
        rows: rows.map((r) => r.v),
      });
    }
  }
  const queues: string[] = [];
  const [hasMeta] = await sql<{ ok: boolean }>`
    select pg_catalog.to_regclass('pgmq.meta') is not null as ok`;
  if (hasMeta?.ok) {
    queues.push(
      ...(await query<{ q: string }>(sql, `select queue_name::text as q from pgmq.meta order by 1`))
        .map((r) => r.q),
    );
  }
  // pgmq.meta's rows are the queue list above, not seed data.
  return {
    extensions,
    tables,
    types,
    sequences,
    views,
    functions,
    triggers,
    data: data.filter((d) => !(d.schema === "pgmq" && d.table === "meta")),
    queues,
  };
}

/** Columns filled by a volatile default (timestamps, random ids) or identity: not seed data. */
function seedIgnored(c: Column): boolean {
  if (c.identity || c.generated) return true;
  if (c.default === null) return false;
  return /^timestamp|^uuid/.test(c.type);
}

async function readTypes(sql: Sql): Promise<TypeDef[]> {
  const rows = await query<{
    oid: number;
    schema: string;
    name: string;
    typtype: string;
    base: string | null;
  }>(
    sql,
    `
    select t.oid::int as oid, n.nspname as schema, t.typname as name, t.typtype::text as typtype,
           case when t.typtype = 'd' then pg_catalog.format_type(t.typbasetype, t.typtypmod) end as base
    from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
    where n.nspname in (${SCHEMA_LIST}) and t.typtype in ('c', 'e', 'd')
      and (t.typtype <> 'c' or (select relkind from pg_catalog.pg_class where oid = t.typrelid) = 'c')
      and ${NOT_EXTENSION("pg_type", "t.oid")}
    order by 2, 3`,
  );
  const out: TypeDef[] = [];
  for (const t of rows) {
    const qname = `${t.schema}.${t.name}`;
    if (t.typtype === "e") {
      const labels = await query<{ l: string }>(
        sql,
        `select pg_catalog.quote_literal(enumlabel) as l from pg_catalog.pg_enum
         where enumtypid = ${t.oid} order by enumsortorder`,
      );
      out.push({
        schema: t.schema,
        name: t.name,
        ddl: `create type ${qname} as enum (${labels.map((r) => r.l).join(", ")});`,
      });
    } else if (t.typtype === "c") {
      const attrs = await query<{ a: string }>(
        sql,
        `select pg_catalog.quote_ident(a.attname) || ' ' ||
                pg_catalog.format_type(a.atttypid, a.atttypmod) as a
         from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.typrelid = a.attrelid
         where t.oid = ${t.oid} and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      );
      out.push({
        schema: t.schema,
        name: t.name,
        ddl: `create type ${qname} as (\n${attrs.map((r) => `  ${r.a}`).join(",\n")}\n);`,
      });
    } else {
      const checks = await query<{ c: string }>(
        sql,
        `select 'constraint ' || pg_catalog.quote_ident(conname) || ' ' ||
                pg_catalog.pg_get_constraintdef(oid) as c
         from pg_catalog.pg_constraint where contypid = ${t.oid} order by conname`,
      );
      out.push({
        schema: t.schema,
        name: t.name,
        ddl: `create domain ${qname} as ${t.base}${checks.map((r) => ` ${r.c}`).join("")};`,
      });
    }
  }
  return out;
}

/** Run one statement given as text (the catalog's own queries, never input). */
export function query<T = Record<string, unknown>>(sql: Sql, text: string): Promise<T[]> {
  const strings = Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray;
  return sql<T>(strings);
}

export function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name)
    ? name
    : `"${name.replaceAll('"', '""')}"`;
}
const RESERVED = new Set([
  "all",
  "and",
  "any",
  "array",
  "as",
  "check",
  "column",
  "constraint",
  "default",
  "desc",
  "do",
  "end",
  "for",
  "from",
  "group",
  "limit",
  "offset",
  "on",
  "or",
  "order",
  "primary",
  "references",
  "select",
  "table",
  "to",
  "user",
  "when",
  "where",
  "window",
  "with",
]);

// ---------------------------------------------------------------- DDL text

/** `create table` with its columns and constraints (foreign keys optional). */
export function ddlTable(t: Table, withForeignKeys = true): string {
  if (t.partitionOf) {
    return `create table ${t.schema}.${ident(t.name)} partition of ${t.partitionOf} default;`;
  }
  const lines = t.columns.map((c) => {
    let line = `  ${ident(c.name)} ${c.type}`;
    if (c.identity) {
      line += ` generated ${c.identity === "a" ? "always" : "by default"} as identity`;
      if (c.increment !== undefined && c.increment !== null && c.increment !== 1) {
        line += ` (increment by ${c.increment})`;
      }
    } else if (c.generated) line += ` generated always as (${c.default}) stored`;
    else if (c.default !== null) line += ` default ${c.default}`;
    if (c.notnull) line += " not null";
    return line;
  });
  for (const c of t.constraints) {
    if (c.kind === "f" && !withForeignKeys) continue;
    // Created with the table it would be valid: bootstrap adds it with alter table.
    if (c.def.endsWith(" NOT VALID")) continue;
    lines.push(`  constraint ${ident(c.name)} ${c.def}`);
  }
  const out = [
    `create ${t.unlogged ? "unlogged " : ""}table ${t.schema}.${ident(t.name)} (\n${
      lines.join(",\n")
    }\n)${t.partitionKey ? ` partition by ${t.partitionKey.toLowerCase()}` : ""}${
      t.options ? ` with (${t.options.join(", ")})` : ""
    };`,
  ];
  for (const i of t.indexes) out.push(`${i.def};`);
  if (t.rls) out.push(`alter table ${t.schema}.${ident(t.name)} enable row level security;`);
  return out.join("\n");
}

/** A foreign key added after both tables exist. */
export function ddlForeignKey(t: Table, c: Constraint): string {
  return `alter table ${t.schema}.${ident(t.name)} add constraint ${ident(c.name)} ${c.def};`;
}

/** A trigger as a re-runnable statement. */
export function ddlTrigger(t: TriggerDef): string {
  return `${t.def.replace(/^CREATE TRIGGER /, "CREATE OR REPLACE TRIGGER ")};`;
}

export function ddlData(d: TableData): string {
  return d.rows.map((r) =>
    `insert into ${d.schema}.${ident(d.table)} (${d.columns.map(ident).join(", ")}) values (${
      r.join(", ")
    });`
  ).join("\n");
}

// ---------------------------------------------------------------- comparison

/** Object key → canonical text; two databases are equal when these maps are. */
export function flatten(c: Catalog, options: { skipPgmq?: boolean } = {}): Map<string, string> {
  const m = new Map<string, string>();
  const keep = (schema: string) => !(options.skipPgmq && schema === "pgmq");
  m.set("extensions", c.extensions.join(", "));
  for (const t of c.tables) {
    if (!keep(t.schema)) continue;
    const q = `${t.schema}.${t.name}`;
    m.set(
      `table ${q}`,
      [
        t.unlogged ? "unlogged" : "logged",
        t.rls ? "row level security" : "",
        `acl ${t.acl ?? "default"}`,
        t.partitionKey ? `partition by ${t.partitionKey}` : "",
        t.partitionOf ? `default partition of ${t.partitionOf}` : "",
        t.options ? `with (${t.options.join(", ")})` : "",
        ...t.columns.map((col) =>
          `${col.name} ${col.type}${col.notnull ? " not null" : ""}${
            col.default !== null ? ` default ${col.default}` : ""
          }${col.identity ? ` identity ${col.identity}` : ""}${
            col.identity && col.increment && col.increment !== 1
              ? ` increment ${col.increment}`
              : ""
          }${col.generated ? ` generated ${col.generated}` : ""}`
        ),
      ].filter(Boolean).join("\n"),
    );
    for (const k of t.constraints) m.set(`constraint ${q}.${k.name}`, `${k.kind} ${k.def}`);
    for (const i of t.indexes) m.set(`index ${t.schema}.${i.name}`, i.def);
  }
  for (const t of c.types) if (keep(t.schema)) m.set(`type ${t.schema}.${t.name}`, t.ddl);
  for (const s of c.sequences) {
    if (keep(s.schema)) m.set(`sequence ${s.schema}.${s.name}`, `${s.ddl} owned by ${s.ownedBy}`);
  }
  for (const v of c.views) if (keep(v.schema)) m.set(`view ${v.schema}.${v.name}`, v.ddl);
  for (const f of c.functions) {
    if (!keep(f.schema)) continue;
    m.set(`function ${f.schema}.${f.name}(${f.args})`, `${f.def}\nacl ${f.acl ?? "default"}`);
  }
  for (const t of c.triggers) {
    if (keep(t.schema)) m.set(`trigger ${t.schema}.${t.table}.${t.name}`, t.def);
  }
  for (const d of c.data) {
    m.set(
      `data ${d.schema}.${d.table}`,
      [d.columns.join(", "), ...d.rows.map((r) => r.join(", "))].join("\n"),
    );
  }
  m.set("queues", c.queues.join(", "));
  return m;
}

export interface Difference {
  key: string;
  /** Text in the database built from migrations (undefined: absent there). */
  migrations?: string;
  /** Text in the database built from the source tree (undefined: absent there). */
  source?: string;
}

export function compare(migrations: Map<string, string>, source: Map<string, string>) {
  const out: Difference[] = [];
  const keys = [...new Set([...migrations.keys(), ...source.keys()])].sort();
  for (const key of keys) {
    const a = migrations.get(key);
    const b = source.get(key);
    if (a !== b) out.push({ key, migrations: a, source: b });
  }
  return out;
}
