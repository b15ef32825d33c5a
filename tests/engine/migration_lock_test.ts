/**
 * migrations/LOCK.json: a landed migration that changes or disappears fails
 * here, before a database migrated by an earlier commit refuses it.
 */
import assert from "node:assert/strict";
import { addToLock, checkLock, LockError, MIGRATIONS_DIR, readLock } from "../../tools/sql/lock.ts";

Deno.test("every locked migration is present and unchanged", async () => {
  assert.deepEqual(await checkLock(), []);
});

Deno.test("the migrations that landed before the lock (0001–0044) are all locked", async () => {
  const lock = await readLock();
  const early: string[] = [];
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    const n = Number(e.name.slice(0, 4));
    if (e.name.endsWith(".sql") && n >= 1 && n <= 44) early.push(e.name);
  }
  assert.equal(early.length, 25);
  for (const f of early) assert.ok(f in lock.sha256, `${f} is not in migrations/LOCK.json`);
});

async function copyMigrations(): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "ef_lock_" });
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    if (e.isFile) await Deno.copyFile(new URL(e.name, MIGRATIONS_DIR), `${dir}/${e.name}`);
  }
  return new URL(`file://${dir}/`);
}

Deno.test("a changed or deleted locked migration fails the check", async () => {
  const dir = await copyMigrations();
  try {
    assert.deepEqual(await checkLock(dir), []);
    await Deno.writeTextFile(new URL("0003_engine_schema.sql", dir), "\n-- edited", {
      append: true,
    });
    await Deno.remove(new URL("0040_subflow_tasks.sql", dir));
    assert.deepEqual((await checkLock(dir)).sort(), [
      "0003_engine_schema.sql changed after it was locked",
      "0040_subflow_tasks.sql is locked but missing",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql:lock adds new migrations and refuses to re-lock a changed landed one", async () => {
  const dir = await copyMigrations();
  try {
    await Deno.writeTextFile(new URL("0100_new_thing.sql", dir), "select 1;\n");
    assert.deepEqual(await addToLock(dir), ["0100_new_thing.sql"]);
    assert.deepEqual(await checkLock(dir), []);
    assert.deepEqual(await addToLock(dir), []);

    // Your own migration, not landed yet, may be re-locked by name.
    await Deno.writeTextFile(new URL("0100_new_thing.sql", dir), "select 2;\n");
    await assert.rejects(addToLock(dir), LockError);
    assert.deepEqual(await addToLock(dir, "0100_new_thing.sql"), ["0100_new_thing.sql"]);

    await Deno.writeTextFile(new URL("0004_engine_steps.sql", dir), "\n-- edited", {
      append: true,
    });
    await assert.rejects(addToLock(dir), /0004_engine_steps.sql changed after it was locked/);
  } finally {
    await Deno.remove(new URL(dir), { recursive: true });
  }
});
