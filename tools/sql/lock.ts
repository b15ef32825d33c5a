/**
 * `migrations/LOCK.json`: the sha256 of every landed migration. A landed
 * migration never changes (the runner refuses a database whose recorded
 * checksum differs), so the lock makes a changed or deleted one fail the
 * test suite instead of failing someone's deploy.
 */
import { checksum } from "../../shared/db/migrate.ts";

export const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

export class LockError extends Error {
  override name = "LockError";
}

export interface Lock {
  about: string;
  sha256: Record<string, string>;
}

const ABOUT = "Landed migrations never change. Add new ones with `deno task sql:lock`.";

export async function readLock(dir: URL = MIGRATIONS_DIR): Promise<Lock> {
  try {
    return JSON.parse(await Deno.readTextFile(new URL("LOCK.json", dir)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { about: ABOUT, sha256: {} };
    throw err;
  }
}

async function writeLock(dir: URL, lock: Lock): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(lock.sha256).sort(([a], [b]) => a < b ? -1 : 1));
  await Deno.writeTextFile(
    new URL("LOCK.json", dir),
    JSON.stringify({ about: ABOUT, sha256: sorted }, null, 2) + "\n",
  );
}

async function migrationFiles(dir: URL): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^\d{4}_[a-z0-9_]+\.sql$/.test(e.name)) out.push(e.name);
  }
  return out.sort();
}

/** Locked migrations that changed or disappeared, one message each. */
export async function checkLock(dir: URL = MIGRATIONS_DIR): Promise<string[]> {
  const lock = await readLock(dir);
  const problems: string[] = [];
  for (const [file, sum] of Object.entries(lock.sha256)) {
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(file, dir));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        problems.push(`${file} is locked but missing`);
        continue;
      }
      throw err;
    }
    if ((await checksum(text)) !== sum) problems.push(`${file} changed after it was locked`);
  }
  return problems;
}

/** Migrations not in the lock yet. */
export async function unlocked(dir: URL = MIGRATIONS_DIR): Promise<string[]> {
  const lock = await readLock(dir);
  return (await migrationFiles(dir)).filter((f) => !(f in lock.sha256));
}

/**
 * Add every unlocked migration to the lock. A locked one that changed is an
 * error, unless it is named by `relock` (your own migration, not landed yet).
 */
export async function addToLock(dir: URL = MIGRATIONS_DIR, relock?: string): Promise<string[]> {
  const lock = await readLock(dir);
  const problems = (await checkLock(dir)).filter((p) => !relock || !p.startsWith(`${relock} `));
  if (problems.length) {
    throw new LockError(
      `${problems.join("\n")}\nlanded migrations never change: put the change in a new migration`,
    );
  }
  const added: string[] = [];
  for (const file of await migrationFiles(dir)) {
    const sum = await checksum(await Deno.readTextFile(new URL(file, dir)));
    if (lock.sha256[file] === sum) continue;
    if (file in lock.sha256 && file !== relock) continue;
    lock.sha256[file] = sum;
    added.push(file);
  }
  if (relock && !(await migrationFiles(dir)).includes(relock)) delete lock.sha256[relock];
  await writeLock(dir, lock);
  return added;
}

/** Lock one migration (the generator's new file). */
export async function lockFile(dir: URL, file: string): Promise<void> {
  const lock = await readLock(dir);
  lock.sha256[file] = await checksum(await Deno.readTextFile(new URL(file, dir)));
  await writeLock(dir, lock);
}
