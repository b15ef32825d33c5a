/**
 * `deno task sql:migration <name>`: the next numbered migration, from what the
 * source tree changed. It builds one database from migrations/ and one from
 * sql/, compares them through the catalog and writes:
 * - every changed or new function's file verbatim (`create or replace`; a
 *   changed result type drops the old function first), `drop function` for a
 *   function that is gone;
 * - every changed table's trigger file verbatim (its trigger functions and
 *   `create or replace trigger`), `drop trigger` for a trigger that is gone;
 * - new tables, indexes, constraints, types, sequences and queues as DDL read
 *   from the tree's database; dropped indexes and constraints as drops;
 * - anything else (a changed or dropped table, column, type or seed row) as a
 *   `-- TODO(author):` stub with both sides, for the author to complete.
 * It then applies the new migration on top of the others and compares again:
 * with nothing left the file is added to migrations/LOCK.json.
 */
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { toMigrations } from "../../shared/db/migrate.ts";
import {
  type Catalog,
  compare,
  ddlForeignKey,
  ddlTable,
  type Difference,
  flatten,
  ident,
  readCatalog,
} from "./catalog.ts";
import { fromMigrations, fromTree, type Kind } from "./databases.ts";
import {
  checkDefinitions,
  readTree,
  type SourceFile,
  statements,
  TREE_DIR,
  TreeError,
} from "./tree.ts";
import { lockFile, MIGRATIONS_DIR } from "./lock.ts";

export class NothingChanged extends Error {
  override name = "NothingChanged";
}

export interface GenerateOptions {
  name: string;
  number?: number;
  treeDir?: URL;
  migrationsDir?: URL;
  kind?: Kind;
  url?: string;
}

export interface Generated {
  file: string;
  text: string;
  /** What still differs after the new migration (the TODOs), empty when complete. */
  remaining: Difference[];
}

/** Both databases' catalogs and their differences. */
export async function diffTree(o: Omit<GenerateOptions, "name" | "number"> = {}) {
  const tree = await readTree(o.treeDir ?? TREE_DIR);
  const migrations = await loadMigrations(o.migrationsDir ?? MIGRATIONS_DIR);
  const a = await fromMigrations(o.kind ?? "pglite", migrations, o.url);
  let b;
  try {
    b = await fromTree(o.kind ?? "pglite", tree, o.url);
  } catch (err) {
    await a.close();
    throw err;
  }
  try {
    const fromMig = await readCatalog(a.sql);
    const fromSrc = await readCatalog(b.sql);
    const skipPgmq = fromMig.extensions.includes("pgmq");
    return {
      tree,
      migrations,
      fromMig,
      fromSrc,
      diffs: compare(flatten(fromMig, { skipPgmq }), flatten(fromSrc, { skipPgmq })),
    };
  } finally {
    await a.close();
    await b.close();
  }
}

export async function generateMigration(o: GenerateOptions): Promise<Generated> {
  if (!/^[a-z0-9_]+$/.test(o.name)) {
    throw new TreeError(`migration name: lower-case letters, digits and _ only`);
  }
  const dir = o.migrationsDir ?? MIGRATIONS_DIR;
  const { tree, migrations, fromMig, fromSrc, diffs } = await diffTree(o);
  if (!diffs.length) {
    throw new NothingChanged("nothing changed: sql/ builds the same schema as migrations/");
  }
  const body = migrationBody(diffs, tree, fromMig, fromSrc);
  const number = o.number ?? Math.max(0, ...migrations.map((m) => m.version)) + 1;
  if (migrations.some((m) => m.version === number)) {
    throw new TreeError(`migration ${number} exists already`);
  }
  const file = `${String(number).padStart(4, "0")}_${o.name}.sql`;
  const text =
    `-- ${o.name}: written by \`deno task sql:migration\` from what changed in sql/.\n\n${body}`;
  await Deno.writeTextFile(new URL(file, dir), text);

  // Does it build the tree's schema now?
  let remaining: Difference[];
  const all = [...migrations, ...toMigrations([{ file, sql: text }])];
  try {
    const c = await fromMigrations(o.kind ?? "pglite", all, o.url);
    try {
      const after = await readCatalog(c.sql);
      const skipPgmq = after.extensions.includes("pgmq");
      remaining = compare(flatten(after, { skipPgmq }), flatten(fromSrc, { skipPgmq }));
    } finally {
      await c.close();
    }
  } catch (err) {
    remaining = [{
      key: `applying ${file}`,
      migrations: String((err as Error).message),
      source: "",
    }];
  }
  if (!remaining.length) await lockFile(dir, file);
  return { file, text, remaining };
}

function migrationBody(diffs: Difference[], tree: SourceFile[], a: Catalog, b: Catalog): string {
  const where = checkDefinitions(tree);
  const todo: string[] = [];
  const ddl: string[] = [];
  const preDrops: string[] = [];
  const files = new Set<SourceFile>();
  const triggerDrops: string[] = [];
  const functionDrops: string[] = [];
  const doneTables = new Set<string>();
  const file = (path: string | undefined) => {
    const f = tree.find((f) => f.path === path);
    if (f) files.add(f);
  };
  const stub = (d: Difference, what: string) => {
    todo.push(
      `-- TODO(author): ${what} ${d.key.replace(/^\w+ /, "")}`,
      ...(d.migrations !== undefined ? ["--   now (migrations):", ...indent(d.migrations)] : []),
      ...(d.source !== undefined ? ["--   wanted (sql/):", ...indent(d.source)] : []),
      "",
    );
  };

  // A new table's constraints and indexes are written with its create table:
  // known before the loop, since "constraint …" keys sort before "table …".
  for (const d of diffs) {
    if (d.key.startsWith("table ") && d.migrations === undefined) doneTables.add(d.key.slice(6));
  }
  for (const d of diffs) {
    const [kind, rest] = [d.key.split(" ")[0], d.key.slice(d.key.indexOf(" ") + 1)];
    if (kind === "function") {
      const name = rest.slice(0, rest.indexOf("("));
      const args = rest.slice(rest.indexOf("(") + 1, -1);
      if (d.source !== undefined) {
        file(where.get(name));
        const before = a.functions.find((f) => `${f.schema}.${f.name}` === name && f.args === args);
        const after = b.functions.find((f) => `${f.schema}.${f.name}` === name && f.args === args);
        if (before && after && before.result !== after.result) {
          preDrops.push(`drop function ${name}(${args});`);
        }
      } else functionDrops.push(`drop function if exists ${name}(${args});`);
    } else if (kind === "trigger") {
      const [schema, table, name] = rest.split(".");
      if (d.source !== undefined) file(triggerFile(tree, schema, table, name));
      else triggerDrops.push(`drop trigger if exists ${ident(name)} on ${schema}.${ident(table)};`);
    } else if (kind === "table") {
      const t = b.tables.find((t) => `${t.schema}.${t.name}` === rest);
      if (d.migrations === undefined && t) {
        ddl.push(ddlTable(t));
        for (const c of t.constraints) {
          if (c.def.endsWith(" NOT VALID")) ddl.push(ddlForeignKey(t, c));
        }
      } else if (d.source === undefined) stub(d, "drop table (or put it back in sql/schema/):");
      else stub(d, "alter table (columns below: now, then wanted):");
    } else if (kind === "constraint" || kind === "index") {
      const table = kind === "constraint"
        ? rest.slice(0, rest.lastIndexOf("."))
        : indexTable(b, rest) ?? indexTable(a, rest);
      if (table && doneTables.has(table)) continue;
      const name = rest.slice(rest.lastIndexOf(".") + 1);
      if (kind === "index") {
        if (d.migrations !== undefined) ddl.push(`drop index ${rest};`);
        if (d.source !== undefined) ddl.push(`${d.source};`);
      } else if (d.migrations === undefined) {
        ddl.push(`alter table ${table} add constraint ${ident(name)} ${d.source!.slice(2)};`);
      } else if (d.source === undefined) {
        ddl.push(`alter table ${table} drop constraint ${ident(name)};`);
      } else stub(d, "change constraint");
    } else if ((kind === "type" || kind === "sequence") && d.migrations === undefined) {
      ddl.push(kind === "sequence" ? d.source!.replace(/ owned by .*$/, "") : d.source!);
    } else if (kind === "view") {
      if (d.source !== undefined) file(tree.find((f) => f.path === `views/${rest}.sql`)?.path);
      else ddl.push(`drop view ${rest};`);
    } else if (kind === "queues") {
      const before = new Set((d.migrations ?? "").split(", ").filter(Boolean));
      const after = (d.source ?? "").split(", ").filter(Boolean);
      for (const q of after) {
        if (!before.has(q)) ddl.push(`select pgmq.create('${q.replaceAll("'", "''")}');`);
      }
      if ([...before].some((q) => !after.includes(q))) stub(d, "drop pgmq queues:");
    } else if (kind === "data") stub(d, "seed rows of");
    else stub(d, `change ${kind}`);
  }

  const ordered = [...files].sort((x, y) =>
    (x.phase === y.phase ? 0 : x.phase === "triggers" ? 1 : y.phase === "triggers" ? -1 : 0) ||
    (x.path < y.path ? -1 : 1)
  );
  const parts: string[] = [];
  // The engine's static pgmq calls are rewritten at run time
  // (edgeflow._mq_compile): a migration that changes them, or their
  // generator, first takes the locks under which a live database rewrites
  // them (queue:make up to migration 0272, queue:compile since 0273), so a
  // completion making a queue meanwhile neither deadlocks with it nor fails
  // with "tuple concurrently updated"; at its end it writes the branches of the
  // database's handler queues again, which the new bodies replaced.
  const mqCalls = [...files].some((f) => MQ_CALLS.test(f.path));
  if (mqCalls) parts.push(MQ_LOCK);
  if (todo.length) parts.push(todo.join("\n").trimEnd());
  if (ddl.length) parts.push(ddl.join("\n\n"));
  if (preDrops.length) parts.push(preDrops.join("\n"));
  for (const f of dependencyOrder(ordered)) {
    parts.push(`-- from sql/${f.path}\n${f.text.trimEnd()}`);
  }
  if (triggerDrops.length) parts.push(triggerDrops.join("\n"));
  if (functionDrops.length) parts.push(functionDrops.join("\n"));
  if (mqCalls) parts.push(MQ_RECOMPILE);
  return parts.join("\n\n") + "\n";
}

/** The source files of the static pgmq calls and of their generator. */
const MQ_CALLS = /^functions\/edgeflow\._mq_(read|delete|send|set_vt|compile)\.sql$/;
const MQ_LOCK = `-- The static pgmq calls change: no live rewrite meanwhile (edgeflow._mq_compile).
DO $$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:make'));
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:compile'));
end
$$;`;
const MQ_RECOMPILE = `-- The handler queues' branches again, in the new bodies.
DO $$
begin
  perform edgeflow._mq_compile();
end
$$;`;

function indent(text: string): string[] {
  return text.split("\n").map((l) => `--     ${l}`);
}

function indexTable(c: Catalog, index: string): string | undefined {
  const t = c.tables.find((t) => t.indexes.some((i) => `${t.schema}.${i.name}` === index));
  return t && `${t.schema}.${t.name}`;
}

function triggerFile(tree: SourceFile[], schema: string, table: string, name: string) {
  const conventional = `triggers/${schema === "edgeflow" ? "" : `${schema}.`}${table}.sql`;
  if (tree.some((f) => f.path === conventional)) return conventional;
  return tree.find((f) =>
    f.phase === "triggers" && statements(f.text).some((s) => s.key === `trigger ${name}`) &&
    f.text.includes(`ON ${schema}.${table} `)
  )?.path;
}

/**
 * Function files so that a file comes after the files of the functions it
 * calls (a `language sql` body is checked when it is created); trigger files
 * last. A cycle keeps the name order.
 */
function dependencyOrder(files: SourceFile[]): SourceFile[] {
  const names = new Map<SourceFile, string[]>();
  for (const f of files) {
    names.set(
      f,
      statements(f.text).filter((s) => s.key?.startsWith("function ")).map((s) => s.key!.slice(9)),
    );
  }
  const out: SourceFile[] = [];
  const state = new Map<SourceFile, "visiting" | "done">();
  const visit = (f: SourceFile) => {
    if (state.get(f)) return;
    state.set(f, "visiting");
    if (f.phase !== "triggers") {
      for (const g of files) {
        if (g === f || g.phase === "triggers") continue;
        if (names.get(g)!.some((n) => f.text.includes(`${n}(`))) visit(g);
      }
    }
    state.set(f, "done");
    out.push(f);
  };
  for (const f of files) if (f.phase !== "triggers") visit(f);
  for (const f of files) if (f.phase === "triggers") out.push(f);
  return out;
}
