/** Read `migrations/*.sql` from disk (Deno only; Workers never migrate). */
import { type Migration, toMigrations } from "../db/migrate.ts";

const DIR = new URL("../../migrations/", import.meta.url);

/** Every migration file in the repository, sorted by version. */
export async function loadMigrations(dir: URL = DIR): Promise<Migration[]> {
  const files: { file: string; sql: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) {
      files.push({ file: entry.name, sql: await Deno.readTextFile(new URL(entry.name, dir)) });
    }
  }
  return toMigrations(files);
}
