/**
 * The SQL source tree's tasks:
 *   deno task sql:bootstrap          write sql/ from what migrations/ build
 *   deno task sql:migration <name>   write the next migration from what sql/ changed
 *   deno task sql:lock [--relock F]  add new migrations to migrations/LOCK.json
 *   deno task sql:check              compare sql/ with migrations/ (exit 1 on a difference)
 */
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { compare, flatten, readCatalog } from "./catalog.ts";
import { renderTree } from "./bootstrap.ts";
import { closeTemplates, fromMigrations, fromTree } from "./databases.ts";
import { readTree, TREE_DIR, TreeError } from "./tree.ts";
import { generateMigration, NothingChanged } from "./generate.ts";
import { addToLock, LockError, MIGRATIONS_DIR } from "./lock.ts";
import { describe } from "./report.ts";

async function bootstrap(): Promise<void> {
  const started = performance.now();
  const migrations = await loadMigrations(MIGRATIONS_DIR);
  const db = await fromMigrations("pglite", migrations);
  let catalog;
  try {
    catalog = await readCatalog(db.sql);
  } finally {
    await db.close();
  }
  const existing = new Map<string, string>();
  for (const f of await listSql(TREE_DIR)) {
    existing.set(f, await Deno.readTextFile(new URL(f, TREE_DIR)));
  }
  const texts = await migrationTexts();
  const files = renderTree(catalog, texts, existing);
  let written = 0;
  for (const [path, text] of files) {
    if (existing.get(path) === text) continue;
    const url = new URL(path, TREE_DIR);
    await Deno.mkdir(new URL(".", url), { recursive: true });
    await Deno.writeTextFile(url, text);
    written++;
  }
  let removed = 0;
  for (const path of existing.keys()) {
    if (!files.has(path)) {
      await Deno.remove(new URL(path, TREE_DIR));
      removed++;
    }
  }
  console.log(`sql/: ${files.size} files, ${written} written, ${removed} removed`);
  const diffs = await check();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (diffs) {
    console.error(`the tree does not rebuild the migrations' schema (${diffs} differences above)`);
    Deno.exit(1);
  }
  console.log(`checked: sql/ builds the same schema as migrations/ (${seconds} s)`);
}

/** Differences between the migrations' schema and the tree's, printed. */
async function check(): Promise<number> {
  const migrations = await loadMigrations(MIGRATIONS_DIR);
  const tree = await readTree(TREE_DIR);
  const a = await fromMigrations("pglite", migrations);
  const b = await fromTree("pglite", tree);
  try {
    const diffs = compare(flatten(await readCatalog(a.sql)), flatten(await readCatalog(b.sql)));
    for (const d of diffs) console.error(describe(d));
    return diffs.length;
  } finally {
    await a.close();
    await b.close();
  }
}

async function listSql(dir: URL, sub = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(new URL(sub, dir))) {
      if (e.isDirectory) out.push(...await listSql(dir, `${sub}${e.name}/`));
      else if (e.name.endsWith(".sql")) out.push(`${sub}${e.name}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

async function migrationTexts(): Promise<{ file: string; sql: string }[]> {
  const out: { file: string; sql: string }[] = [];
  for (const f of await listSql(MIGRATIONS_DIR)) {
    if (f.includes("/")) continue;
    out.push({ file: f, sql: await Deno.readTextFile(new URL(f, MIGRATIONS_DIR)) });
  }
  return out;
}

const [command, ...args] = Deno.args;
try {
  if (command === "bootstrap") await bootstrap();
  else if (command === "check") {
    const n = await check();
    if (n) {
      console.error(`sql/ and migrations/ differ (${n}): run \`deno task sql:migration <name>\``);
      Deno.exit(1);
    }
    console.log("sql/ and migrations/ build the same schema");
  } else if (command === "migration") {
    const number = args.indexOf("--number");
    const name = args.find((a, i) => !a.startsWith("--") && (number < 0 || i !== number + 1));
    if (!name) throw new TreeError("usage: deno task sql:migration <name> [--number NNNN]");
    const result = await generateMigration({
      name,
      number: number >= 0 ? Number(args[number + 1]) : undefined,
    });
    console.log(`wrote migrations/${result.file}`);
    for (const d of result.remaining) console.error(describe(d));
    if (result.remaining.length) {
      console.error(
        `complete the TODOs in migrations/${result.file}, check with \`deno task sql:check\`, then \`deno task sql:lock\``,
      );
    } else console.log(`it builds the tree's schema; locked in migrations/LOCK.json`);
  } else if (command === "lock") {
    const relock = args.indexOf("--relock");
    const added = await addToLock(MIGRATIONS_DIR, relock >= 0 ? args[relock + 1] : undefined);
    console.log(added.length ? `locked ${added.join(", ")}` : "every migration is locked already");
  } else {
    console.error(
      "usage: tools/sql/main.ts bootstrap | check | migration <name> | lock [--relock FILE]",
    );
    Deno.exit(2);
  }
} catch (err) {
  if (err instanceof TreeError || err instanceof NothingChanged || err instanceof LockError) {
    console.error(err.message);
    Deno.exit(1);
  }
  throw err;
}
// PGlite templates kept for cloning would keep the process alive.
await closeTemplates();
Deno.exit(0);
