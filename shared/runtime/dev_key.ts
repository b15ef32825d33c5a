/**
 * The dev server's admin key, kept in its data directory: generated once, read back on every
 * restart, so exported keys, the dashboard's cookie and running workers survive a restart. The
 * file is the owner's alone (0600), like an SSH key.
 */

/** Where the key lives inside the data directory. */
export const DEV_KEY_FILE = "dev_admin_key";

/** The admin key of `deno task dev`; `generated` is true when this call made it. */
export async function devAdminKey(
  dataDir: string,
  configured?: string,
): Promise<{ key: string; generated: boolean; path: string }> {
  const path = `${dataDir.replace(/\/+$/, "")}/${DEV_KEY_FILE}`;
  if (configured) return { key: configured, generated: false, path };
  try {
    const kept = (await Deno.readTextFile(path)).trim();
    if (kept) return { key: kept, generated: false, path };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(dataDir, { recursive: true });
  const key = `dev-${crypto.randomUUID().replaceAll("-", "")}`;
  await Deno.writeTextFile(path, key + "\n", { mode: 0o600 });
  await Deno.chmod(path, 0o600); // `mode` is ignored when the file already existed (empty).
  return { key, generated: true, path };
}
