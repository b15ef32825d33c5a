// deno-lint-ignore-file no-explicit-any
/** `edgeflow keys ls|create|revoke` (issue 10 item 13). */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { json, serveApp } from "../cli/harness.ts";

dbTest("cli lists keys as a table and JSON, revokes one, and the key stops working", async (db) => {
  const server = serveApp(db);
  try {
    const created = await server.cli([
      "keys",
      "create",
      "--name",
      "ci",
      "--scope",
      "deploy",
      "--expires-in",
      "86400",
      "--json",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const { id, key, expires_at } = json(created);
    assert.match(expires_at, /^\d{4}-/);

    const table = await server.cli(["keys", "ls"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+NAME\s+PREFIX\s+SCOPES\s+STATUS\s+CREATED\s+EXPIRES/m);
    assert.match(table.stdout, new RegExp(`^${id}\\s+ci\\s+ef_\\w{8}…\\s+deploy\\s+active`, "m"));
    assert.ok(!table.stdout.includes(key), "the secret is never listed");
    const listed = json(await server.cli(["keys", "ls", "--json"]));
    assert.deepEqual(listed.keys.map((k: any) => k.id), [id]);

    assert.equal((await server.cli(["pools", "ls", "--key", key])).code, 0);
    const revoked = await server.cli(["keys", "revoke", id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked key ci \\(${id}\\)`));
    const refused = await server.cli(["pools", "ls", "--key", key]);
    assert.notEqual(refused.code, 0);
    assert.match((await server.cli(["keys", "ls"])).stdout, /\brevoked\b/);
    const unknown = await server.cli(["keys", "revoke", crypto.randomUUID()]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no key/);
  } finally {
    await server.close();
  }
});
