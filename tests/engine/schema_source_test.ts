/**
 * sql/ is the source of every SQL definition and migrations/ is how
 * databases get there: a database built from each must be the same through
 * the catalog (functions with every overload, triggers, tables, columns,
 * constraints, indexes, types, views, sequences, seed rows and pgmq queues).
 * On PGlite always, on Postgres when DATABASE_URL is set; with the real pgmq
 * extension installed, our pgmq implementation (sql/pgmq/) is left out on both
 * sides, as migration 0002 is.
 */
import assert from "node:assert/strict";
import { diffTree, generateMigration, NothingChanged } from "../../tools/sql/generate.ts";
import { describe } from "../../tools/sql/report.ts";
import { readTree, TREE_DIR, TreeError } from "../../tools/sql/tree.ts";
import { MIGRATIONS_DIR, readLock } from "../../tools/sql/lock.ts";
import type { Kind } from "../../tools/sql/databases.ts";
import { renderTree } from "../../tools/sql/bootstrap.ts";
import { readCatalog } from "../../tools/sql/catalog.ts";
import { fromMigrations } from "../../tools/sql/databases.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";

const url = Deno.env.get("DATABASE_URL");
const kinds: Kind[] = url ? ["pglite", "postgres"] : ["pglite"];

for (const kind of kinds) {
  Deno.test(`[${kind}] the schema built from migrations/ equals the one built from sql/`, async () => {
    const { diffs } = await diffTree({ kind, url });
    assert.deepEqual(
      diffs.map(describe),
      [],
      "sql/ and migrations/ differ: after editing sql/, run `deno task sql:migration <name>`",
    );
  });
}

async function copyDir(from: URL, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(new URL(`${e.name}/`, from), `${to}/${e.name}`);
    else await Deno.copyFile(new URL(e.name, from), `${to}/${e.name}`);
  }
}

/** A scratch copy of sql/ and migrations/. */
async function scratch() {
  const dir = await Deno.makeTempDir({ prefix: "ef_sqltree_" });
  await copyDir(TREE_DIR, `${dir}/sql`);
  await copyDir(MIGRATIONS_DIR, `${dir}/migrations`);
  return {
    treeDir: new URL(`file://${dir}/sql/`),
    migrationsDir: new URL(`file://${dir}/migrations/`),
    path: (p: string) => `${dir}/${p}`,
    close: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("a migration that changes the static pgmq calls takes their lock and writes their branches again", async () => {
  const s = await scratch();
  try {
    // A live database rewrites these functions (edgeflow._mq_compile): the
    // migration must not race that, and must not leave the bare fallback body.
    const file = s.path("sql/functions/edgeflow._mq_set_vt.sql");
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace("begin\n", "begin\n  -- one more line\n"),
    );
    const made = await generateMigration({ name: "set_vt_line", ...s });
    assert.deepEqual(made.remaining.map(describe), []);
    const lock = made.text.indexOf("hashtext('edgeflow.queue:compile')");
    const body = made.text.indexOf("-- from sql/functions/edgeflow._mq_set_vt.sql");
    const again = made.text.lastIndexOf("perform edgeflow._mq_compile();");
    assert.ok(lock > 0 && lock < body, "the lock comes before the new body");
    assert.ok(again > body, "the branches are written again after it");
    // Any other function: neither.
    const iso = s.path("sql/functions/edgeflow.iso.sql");
    await Deno.writeTextFile(
      iso,
      (await Deno.readTextFile(iso)).replace('.MS"Z"', '.US"Z"'),
    );
    const other = await generateMigration({ name: "iso_only", ...s });
    assert.doesNotMatch(other.text, /queue:compile|_mq_compile\(\)/);
  } finally {
    await s.close();
  }
});

Deno.test("a function defined in two source files is refused, by the tree and the generator", async () => {
  const s = await scratch();
  try {
    const iso = await Deno.readTextFile(s.path("sql/functions/edgeflow.iso.sql"));
    await Deno.writeTextFile(
      s.path("sql/triggers/runs.sql"),
      `\n${iso}`,
      { append: true },
    );
    await assert.rejects(readTree(s.treeDir), /edgeflow\.iso is defined in two files/);
    await assert.rejects(generateMigration({ name: "twice", ...s }), TreeError);
    // One function per file in functions/ too.
    await Deno.writeTextFile(
      s.path("sql/triggers/runs.sql"),
      await Deno.readTextFile(new URL("triggers/runs.sql", TREE_DIR)),
    );
    await Deno.remove(s.path("sql/functions/edgeflow.iso.sql"));
    await Deno.writeTextFile(s.path("sql/functions/edgeflow.other.sql"), iso);
    await assert.rejects(readTree(s.treeDir), /edgeflow.other.sql defines edgeflow.iso/);
  } finally {
    await s.close();
  }
});

/** `NNNN_name.sql` for the migration after the newest one in `dir`. */
async function nextFile(dir: URL, offset: number, name: string): Promise<string> {
  let max = 0;
  for await (const e of Deno.readDir(dir)) {
    const m = /^(\d{4})_/.exec(e.name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `${String(max + 1 + offset).padStart(4, "0")}_${name}.sql`;
}

Deno.test("editing sql/ without a migration fails the comparison; sql:migration writes the one that makes them equal", async () => {
  const s = await scratch();
  try {
    const isoMigration = await nextFile(s.migrationsDir, 0, "iso_micro");
    const stubMigration = await nextFile(s.migrationsDir, 1, "pool_note");
    await assert.rejects(generateMigration({ name: "nothing", ...s }), NothingChanged);

    // A changed function, a new function, a new index and a removed trigger.
    const isoFile = s.path("sql/functions/edgeflow.iso.sql");
    const iso = await Deno.readTextFile(isoFile);
    await Deno.writeTextFile(isoFile, iso.replace('.MS"Z"', '.US"Z"'));
    await Deno.writeTextFile(
      s.path("sql/functions/edgeflow.iso_date.sql"),
      "create function edgeflow.iso_date(ts timestamptz)\nreturns text language sql stable as $$\n  select pg_catalog.left(edgeflow.iso(ts), 10);\n$$;\n",
    );
    await Deno.writeTextFile(
      s.path("sql/schema/80_events.sql"),
      "\ncreate index events_newest on edgeflow.events (id desc);\n",
      { append: true },
    );
    const tasks = s.path("sql/triggers/tasks.sql");
    await Deno.writeTextFile(
      tasks,
      (await Deno.readTextFile(tasks)).replace(
        /^CREATE OR REPLACE TRIGGER events_task_update .*$/m,
        "",
      ),
    );

    const { diffs } = await diffTree(s);
    assert.deepEqual(diffs.map((d) => d.key), [
      "function edgeflow.iso(ts timestamp with time zone)",
      "function edgeflow.iso_date(ts timestamp with time zone)",
      "index edgeflow.events_newest",
      "trigger edgeflow.tasks.events_task_update",
    ]);

    const made = await generateMigration({ name: "iso_micro", ...s });
    assert.equal(made.file, isoMigration);
    assert.deepEqual(made.remaining.map(describe), []);
    assert.match(made.text, /-- from sql\/functions\/edgeflow\.iso\.sql\n/);
    assert.match(made.text, /CREATE INDEX events_newest ON edgeflow\.events/);
    assert.match(made.text, /drop trigger if exists events_task_update on edgeflow\.tasks;/);
    // iso_date calls iso: it comes after it.
    assert.ok(
      made.text.indexOf("edgeflow.iso_date(") > made.text.indexOf("FUNCTION edgeflow.iso("),
    );
    assert.ok(isoMigration in (await readLock(s.migrationsDir)).sha256);
    assert.deepEqual((await diffTree(s)).diffs, []);
    await assert.rejects(generateMigration({ name: "again", ...s }), NothingChanged);

    // A changed table is a stub for the author, and not locked until complete.
    const pools = s.path("sql/schema/10_pools.sql");
    await Deno.writeTextFile(
      pools,
      (await Deno.readTextFile(pools)).replace(
        "  url text,\n",
        "  url text,\n  test_note text,\n",
      ),
    );
    const stub = await generateMigration({ name: "pool_note", ...s });
    assert.equal(stub.file, stubMigration);
    assert.match(stub.text, /-- TODO\(author\): alter table .*edgeflow\.pools/);
    assert.match(stub.text, /-- {5}test_note text/);
    assert.deepEqual(stub.remaining.map((d) => d.key), [
      "data edgeflow.pools",
      "table edgeflow.pools",
    ]);
    assert.ok(!(stubMigration in (await readLock(s.migrationsDir)).sha256));
  } finally {
    await s.close();
  }
});

Deno.test("the bootstrap is deterministic and keeps the comments written in sql/", async () => {
  const migrations = await loadMigrations();
  const db = await fromMigrations("pglite", migrations);
  const catalog = await readCatalog(db.sql);
  await db.close();
  const texts: { file: string; sql: string }[] = [];
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    if (e.name.endsWith(".sql")) {
      texts.push({ file: e.name, sql: await Deno.readTextFile(new URL(e.name, MIGRATIONS_DIR)) });
    }
  }
  texts.sort((a, b) => a.file < b.file ? -1 : 1);
  const first = renderTree(catalog, texts, new Map());
  assert.deepEqual(renderTree(catalog, texts, first), first);

  // Comments written by hand survive: the file header and the one above a statement.
  const edited = new Map(first);
  const path = "functions/edgeflow.claim_tasks.sql";
  edited.set(
    path,
    `-- Why claims look like this.\n\n-- A hand-written note.\n${
      first.get(path)!.replace(/^(--.*\n)*/, "")
    }`,
  );
  const again = renderTree(catalog, texts, edited);
  assert.equal(again.get(path), edited.get(path));
  // A function's body comes from the catalog whatever the file says.
  edited.set(path, edited.get(path)!.replace("v_left integer", "v_left bigint"));
  assert.match(renderTree(catalog, texts, edited).get(path)!, /v_left integer/);
});

Deno.test("each trigger file's firing-order header lists the table's triggers as the catalog fires them", async () => {
  // The header is what a reader trusts for "what fires when" (issue 12); a trigger added
  // without regenerating it (runs_notify once was) would go unseen.
  const migrations = await loadMigrations();
  const db = await fromMigrations("pglite", migrations);
  const catalog = await readCatalog(db.sql);
  await db.close();
  const rendered = renderTree(catalog, [], new Map());
  const order = (text: string) => {
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.startsWith("-- Firing order"));
    if (at < 0) return null;
    const out = [];
    // Timing, level, name and function in order; the `when` may be paraphrased for people.
    for (let i = at + 1; i < lines.length && /^--\s+\d+\. /.test(lines[i]); i++) {
      out.push(lines[i].replace(/ when .*$/, ""));
    }
    return out;
  };
  let files = 0;
  for (const [path, text] of rendered) {
    if (!path.startsWith("triggers/")) continue;
    files++;
    const ours = await Deno.readTextFile(new URL(`../../sql/${path}`, import.meta.url));
    assert.deepEqual(order(ours), order(text), `sql/${path}: regenerate its firing-order header`);
  }
  assert.ok(files >= 5, `only ${files} trigger files`);
});

Deno.test("sql:bootstrap over the tree changes nothing: hand order kept, trigger files in firing order", async () => {
  // `deno task sql:bootstrap` once reordered seven hand-edited files (tables by name, a
  // paraphrased `when` spelled out); a tool that rewrites what people wrote is not run twice.
  const migrations = await loadMigrations();
  const db = await fromMigrations("pglite", migrations);
  const catalog = await readCatalog(db.sql);
  await db.close();
  const tree = new Map<string, string>();
  const walk = async (dir: URL, sub = "") => {
    for await (const e of Deno.readDir(new URL(sub, dir))) {
      if (e.isDirectory) await walk(dir, `${sub}${e.name}/`);
      else if (e.name.endsWith(".sql")) {
        tree.set(`${sub}${e.name}`, await Deno.readTextFile(new URL(`${sub}${e.name}`, dir)));
      }
    }
  };
  await walk(TREE_DIR);
  const texts: { file: string; sql: string }[] = [];
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    if (e.name.endsWith(".sql")) {
      texts.push({ file: e.name, sql: await Deno.readTextFile(new URL(e.name, MIGRATIONS_DIR)) });
    }
  }
  texts.sort((a, b) => a.file < b.file ? -1 : 1);
  const again = renderTree(catalog, texts, tree);
  for (const [path, text] of again) {
    assert.equal(text, tree.get(path), `sql/${path}: run \`deno task sql:bootstrap\``);
  }
  assert.deepEqual([...again.keys()].sort(), [...tree.keys()].sort());

  // A table moved to the end of its file by hand stays there.
  const limits = "schema/60_limits.sql";
  const text = tree.get(limits)!;
  const blocks = text.replace(/\n$/, "").split("\n\n");
  const at = blocks.findIndex((b) => b.includes("create table edgeflow.concurrency_limits ("));
  assert.ok(at > 0, "concurrency_limits is in 60_limits.sql");
  const moved = [...blocks.slice(0, at), ...blocks.slice(at + 1), blocks[at]].join("\n\n") + "\n";
  const edited = new Map(tree).set(limits, moved);
  assert.equal(renderTree(catalog, texts, edited).get(limits), moved);

  // A trigger file stays in firing order: a statement trigger moved first goes back last.
  const runs = "triggers/runs.sql";
  const lines = tree.get(runs)!.split("\n\n");
  const batch = lines.findIndex((b) => b.includes("TRIGGER events_run_update_batch "));
  const firstTrigger = lines.findIndex((b) => /^(--.*\n)*CREATE OR REPLACE TRIGGER /.test(b));
  assert.ok(batch > firstTrigger && firstTrigger > 0);
  const shuffled = [
    ...lines.slice(0, firstTrigger),
    lines[batch],
    ...lines.slice(firstTrigger).filter((_, i) => i + firstTrigger !== batch),
  ].join("\n\n");
  assert.equal(
    renderTree(catalog, texts, new Map(tree).set(runs, shuffled)).get(runs),
    tree.get(runs),
  );
});
