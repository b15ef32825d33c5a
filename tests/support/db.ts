/**
 * Test databases. Every test gets a database of its own, already migrated:
 * - PGlite, always: loaded from one migrated data directory dump, kept on disk
 *   between test modules and runs (see pgliteTemplate);
 * - Postgres, when DATABASE_URL is set: `create database … template …` from a
 *   template migrated once per set of migrations (graphile-worker's trick),
 *   dropped again when the test ends.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import type { Sql } from "../../shared/db/sql.ts";
import { fromPglite } from "../../shared/db/pglite.ts";
import {
  parseTemplate,
  reset,
  sameSignature,
  serializeTemplate,
  snapshot,
  type Template,
} from "./pglite_reset.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { checksum, migrate, pgmqMode } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";

export interface TestDatabase {
  sql: Sql;
  /** Connection URL (Postgres only): for second clients, servers, workers. */
  url?: string;
  close(): Promise<void>;
}

export interface DatabaseKind {
  name: "pglite" | "postgres";
  open(): Promise<TestDatabase>;
}

/**
 * The migrated PGlite template as a data directory dump, made once and kept on
 * disk (`.edgeflow/test-cache/`, or EDGEFLOW_TEST_CACHE) for the processes and
 * test modules that come after. Each test module is an isolate of its own, and
 * before this each one made a fresh PGlite (initdb) and migrated it: 7.7-8.7 s
 * of CPU for PGlite.create() and 1.9-2.1 s for the migrations, where loading
 * this dump costs 1.9 s (WebAssembly compile included), measured at load
 * average 6-9 (CPU time of one process from /proc/self/stat).
 * The name carries everything the dump depends on: the migrations' text, the
 * migration runner, the PGlite version, and the UTC day (migrations create
 * the day partitions of today and the two days ahead). A stale or unreadable
 * dump is rebuilt, never trusted.
 */
interface PgliteDump {
  dump: Blob;
  fromDisk: boolean;
  /** The file it was read from, and that file's identity (inode, size, mtime): see loadPglite. */
  file?: string;
  identity?: string;
}

let pgliteTemplate: Promise<PgliteDump> | undefined;

const CACHE_DIR = Deno.env.get("EDGEFLOW_TEST_CACHE") ??
  new URL("../../.edgeflow/test-cache/", import.meta.url).pathname;

async function pgliteTemplateFile(migrations: { sql: string }[]): Promise<string> {
  const runner = await Deno.readTextFile(new URL("../../shared/db/migrate.ts", import.meta.url));
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const day = new Date().toISOString().slice(0, 10);
  const parts = [
    config.imports["@electric-sql/pglite"],
    day,
    runner,
    ...migrations.map((m) => m.sql),
  ];
  return `${CACHE_DIR}/pglite-${(await checksum(parts.join("\n"))).slice(0, 16)}.tar`;
}

async function buildPgliteTemplate(fromDisk = true): Promise<PgliteDump> {
  const migrations = await loadMigrations();
  const file = await pgliteTemplateFile(migrations);
  if (fromDisk) {
    const stat = await Deno.stat(file).catch(() => null);
    const bytes = await Deno.readFile(file).catch(() => null);
    if (bytes && stat) {
      const identity = [stat.ino, stat.size, stat.mtime?.getTime()].join(":");
      return { dump: new Blob([bytes]), fromDisk: true, file, identity };
    }
  }
  const db = await PGlite.create();
  await migrate(await fromPglite(db), migrations);
  const dump = await db.dumpDataDir("none");
  await db.close();
  try {
    await Deno.mkdir(CACHE_DIR, { recursive: true });
    for await (const e of Deno.readDir(CACHE_DIR)) {
      if (e.name.startsWith("pglite-") && `${CACHE_DIR}/${e.name}` !== file) {
        await Deno.remove(`${CACHE_DIR}/${e.name}`).catch(() => {});
      }
    }
    // Processes of one run (--parallel) may race: each writes a file of its own; rename is atomic.
    const tmp = `${file}.${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeFile(tmp, new Uint8Array(await dump.arrayBuffer()));
    await Deno.rename(tmp, file);
  } catch {
    // A read-only checkout still runs the tests, each module migrating its own.
  }
  return { dump, fromDisk: false };
}

/**
 * PGlite: one instance per test module, put back to the template's state
 * between tests (pglite_reset.ts) instead of a clone() per test.
 * Figures (one process, performance.now(), 2-core machine with other load):
 * clone() of the loaded instance 480-1000 ms per test, a fresh load from the
 * dump 400-460 ms; the reset 20-60 ms after a test that wrote nothing,
 * 60-370 ms after one that wrote rows (data check, truncate of the dirty and
 * seeded tables, re-insert), 200-400 ms after one that made objects (a pgmq
 * queue, a partition, tables, functions, roles: inventory, drops, full
 * catalog comparison), the first reset of an instance being the slowest (cold
 * caches). Recording an instance's template (snapshot) costs 200-800 ms and is
 * kept on disk next to the dump (templateOf). The 107 test files of ceaf468,
 * `deno test -A --parallel`, cold cache: 3:02 wall, 237 s user + 97 s sys
 * before, 2:16 and 198 + 49 s after; the whole suite 3:54 (324 + 69 s) after.
 *
 * Each test gets a Sql of its own over the shared instance; once the test's
 * database is closed it refuses every statement ("PGlite is closed", as a
 * closed clone did), transactions already open included, so a stray server or
 * worker of a finished test never reaches the next test's database. An
 * instance that is broken (shared/db/pglite.ts), that the reset fails on or
 * whose catalog or data then differ from the template's is thrown away, and
 * the next test loads a fresh one from the dump: no test runs on a database
 * that is not the template's.
 */
interface PgliteInstance {
  db: PGlite;
  template: Template;
}

/** The module's instance when no test holds it. */
let idlePglite: PgliteInstance | undefined;

/** How long a reset may wait for a transaction a stray still holds open. */
const RESET_TIMEOUT_MS = 10_000;

async function loadPglite(): Promise<PgliteInstance> {
  // loading the dump per test instead of reusing one instance failed trigger_rate_test's
  // 200 ms Redis deadline twice at load average 12: the first instance of an isolate runs slower.
  const load = async (template: { dump: Blob }) => {
    const db = await PGlite.create({ loadDataDir: template.dump });
    await db.query("select 1 from edgeflow.schema_migrations limit 1");
    return db;
  };
  let dump = await (pgliteTemplate ??= buildPgliteTemplate());
  let db: PGlite;
  try {
    db = await load(dump);
  } catch (err) {
    if (!dump.fromDisk) throw err;
    // A dump on disk this PGlite cannot load (cut short, another format): rebuilt, not trusted.
    dump = await (pgliteTemplate = buildPgliteTemplate(false));
    db = await load(dump);
  }
  return { db, template: await templateOf(db, dump) };
}

/**
 * The template's record (snapshot()), kept next to the dump it was taken of:
 * every instance loaded from the same file starts in the same state, and
 * taking it costs 200-800 ms of a module's first test. It is trusted only
 * for the very file it was taken of (inode, size, mtime: a rebuilt dump is
 * another file) and only when the loaded instance's catalog signature agrees.
 */
async function templateOf(db: PGlite, dump: PgliteDump): Promise<Template> {
  const record = dump.file && `${dump.file}.${dump.identity!.replaceAll(":", "-")}.json`;
  if (record) {
    const text = await Deno.readTextFile(record).catch(() => null);
    const template = text ? parseTemplate(text) : null;
    if (template && await sameSignature(db, template)) return template;
  }
  const template = await snapshot(db);
  if (record) {
    const tmp = `${record}.${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(tmp, serializeTemplate(template))
      .then(() => Deno.rename(tmp, record))
      .catch(() => Deno.remove(tmp).catch(() => {}));
  }
  return template;
}

/** A Sql over `inner` that refuses everything once `closed()` says so. */
function guarded(inner: Sql, closed: () => boolean): Sql {
  const check = () => {
    if (closed()) throw new Error("PGlite is closed (this test's database was closed)");
  };
  const sql = (async <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
    check();
    return await inner<T>(strings, ...values);
  }) as Sql;
  Object.assign(sql, {
    driver: inner.driver,
    begin: async <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      check();
      return await inner.begin((tx) => fn(guarded(tx, closed)));
    },
    exec: async (script: string) => {
      check();
      await inner.exec(script);
    },
    ping: async (timeoutMs: number) => !closed() && (await inner.ping?.(timeoutMs) ?? true),
    end: async () => {},
  });
  return sql;
}

async function openPglite(): Promise<TestDatabase> {
  // Another database of this module still open (a test holding two): a fresh instance for it.
  const instance = idlePglite ?? await loadPglite();
  idlePglite = undefined;
  const inner = await fromPglite(instance.db);
  let closed = false;
  const sql = guarded(inner, () => closed);
  const ended = sql.end;
  // The test ending its Sql closes it too, as it closed its clone.
  sql.end = async () => {
    closed = true;
    await ended();
  };
  let release: Promise<void> | undefined;
  return {
    sql,
    close: () =>
      release ??= (async () => {
        closed = true;
        // Statements a stray issued just before the close go first.
        await new Promise((r) => setTimeout(r, 0));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("reset timed out")), RESET_TIMEOUT_MS);
        });
        const sound = async () => {
          if (!(await inner.ping?.(RESET_TIMEOUT_MS))) throw new Error("the instance is broken");
          await reset(instance.db, instance.template);
        };
        try {
          await Promise.race([sound(), late]);
          if (!idlePglite) return void (idlePglite = instance);
        } catch {
          // Thrown away: the next test loads a fresh instance.
        } finally {
          clearTimeout(timer);
        }
        instance.db.close().catch(() => {});
      })(),
  };
}

let postgresTemplate: Promise<string> | undefined;

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function buildTemplate(url: string): Promise<string> {
  const migrations = await loadMigrations();
  const sum = (await checksum(migrations.map((m) => m.sql).join("\n"))).slice(0, 10);
  const base = new URL(url).pathname.slice(1) || "postgres";
  const mode = pgmqMode(Deno.env.toObject());
  const name = `${base}_tpl_${sum}${mode === "compat" ? "_compat" : ""}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Processes of one test run race to build it: one builds, others wait.
    await admin`select pg_advisory_lock(7269, 2)`;
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      await admin.unsafe(`create database "${name}"`);
      const sql = postgresSql(withDatabase(url, name), { max: 1 });
      try {
        await migrate(sql, migrations, { pgmq: mode });
      } finally {
        await sql.end();
      }
    }
    await admin`select pg_advisory_unlock(7269, 2)`;
  } finally {
    await admin.end();
  }
  return name;
}

async function openPostgres(url: string): Promise<TestDatabase> {
  postgresTemplate ??= buildTemplate(url);
  const template = await postgresTemplate;
  const name = `${template.replace(/_tpl_.*/, "")}_t${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}" template "${template}"`);
  const dbUrl = withDatabase(url, name);
  const sql = postgresSql(dbUrl, { max: 10 });
  return {
    sql,
    url: dbUrl,
    close: async () => {
      await sql.end();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** The databases every database test runs against. */
export function databaseKinds(): DatabaseKind[] {
  const kinds: DatabaseKind[] = [{ name: "pglite", open: openPglite }];
  const url = Deno.env.get("DATABASE_URL");
  if (url) kinds.push({ name: "postgres", open: () => openPostgres(url) });
  // EDGEFLOW_TEST_DATABASES=postgres: a second pass of the suite (CI's run on
  // the other pgmq implementation) need not repeat the PGlite tests.
  const only = Deno.env.get("EDGEFLOW_TEST_DATABASES")?.split(",");
  return only ? kinds.filter((k) => only.includes(k.name)) : kinds;
}

/** Declare one test per database kind; the database is closed afterwards. */
export function dbTest(
  name: string,
  fn: (db: TestDatabase, kind: DatabaseKind["name"]) => Promise<void>,
  options: { only?: DatabaseKind["name"] } = {},
): void {
  for (const kind of databaseKinds()) {
    if (options.only && options.only !== kind.name) continue;
    const full = `[${kind.name}] ${name}`;
    Deno.test({
      name: full,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () =>
        withDeadline(full, TEST_DEADLINE_MS, async () => {
          const db = await kind.open();
          try {
            await fn(db, kind.name);
          } finally {
            await db.close();
          }
        }),
    });
  }
}

/**
 * The longest a database test may take before it fails instead of holding
 * the suite. The slowest test takes 51 s (pg_cron's tick, whose scheduler
 * ticks once a minute); a CI run once sat 32 minutes and more in one test
 * (the Celery cancel) until the job's own limit ended it, with nothing to say
 * where. Five minutes leaves room for a slow machine and still ends a hang.
 */
export const TEST_DEADLINE_MS = 5 * 60_000;

/** Runs `fn`, or fails with `name` once `ms` have passed (the hung work is left behind). */
export async function withDeadline<T>(name: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${name}: still running after ${ms / 1000} s; stopped waiting for it`)),
      ms,
    );
  });
  try {
    return await Promise.race([fn(), expired]);
  } finally {
    clearTimeout(timer);
  }
}
