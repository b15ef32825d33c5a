import assert from "node:assert/strict";
import { devAdminKey } from "../../shared/runtime/dev_key.ts";

Deno.test("the dev server's generated admin key is kept in the data directory (0600) and reused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await devAdminKey(`${dir}/.edgeflow`);
    assert.equal(first.generated, true);
    assert.match(first.key, /^dev-[0-9a-f]{32}$/);
    assert.equal(first.path, `${dir}/.edgeflow/dev_admin_key`);
    assert.equal((await Deno.stat(first.path)).mode! & 0o777, 0o600);
    const again = await devAdminKey(`${dir}/.edgeflow`);
    assert.deepEqual(again, { ...first, generated: false }, "a restart keeps the key");
    // EDGEFLOW_ADMIN_KEY wins, and leaves the kept key alone.
    const configured = await devAdminKey(`${dir}/.edgeflow`, "dev-from-env");
    assert.equal(configured.key, "dev-from-env");
    assert.equal((await Deno.readTextFile(first.path)).trim(), first.key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
