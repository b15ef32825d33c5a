/** Listing, revoking and expiring API keys (issue 10 item 13). */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

dbTest("GET /deploy/keys lists keys without secrets or hashes", async (db) => {
  const { call } = testApp(db);
  const made = await call("POST", "/deploy/keys", { name: "ci", scopes: ["register", "deploy"] });
  assert.equal(made.status, 201);
  assert.match(made.body.key, /^ef_/);
  assert.equal(made.body.expires_at, null);
  const list = await call("GET", "/deploy/keys");
  assert.equal(list.status, 200);
  assert.equal(list.body.keys.length, 1);
  const [key] = list.body.keys;
  assert.deepEqual(Object.keys(key).sort(), [
    "created_at",
    "expires_at",
    "id",
    "last_used_at",
    "name",
    "prefix",
    "revoked",
    "revoked_at",
    "scopes",
  ]);
  assert.equal(key.id, made.body.id);
  assert.deepEqual(key.scopes, ["deploy", "register"]);
  assert.equal(key.revoked, false);
  assert.equal(key.last_used_at, null);
  const text = JSON.stringify(list.body);
  const [{ hash }] = await db.sql<{ hash: string }>`select hash from edgeflow.api_keys`;
  assert.ok(!text.includes(made.body.key) && !text.includes(hash), "no secret, no hash");

  // Using the key records when it was last used.
  assert.equal((await call("GET", "/deploy/pools", undefined, { key: made.body.key })).status, 200);
  const used = (await call("GET", "/deploy/keys")).body.keys[0];
  assert.match(used.last_used_at, /^\d{4}-\d\d-\d\dT/);
});

dbTest("DELETE /deploy/keys/:id revokes the key at once", async (db) => {
  const { call } = testApp(db);
  const made = await call("POST", "/deploy/keys", { name: "w", scopes: ["worker", "deploy"] });
  const key = made.body.key;
  assert.equal((await call("GET", "/deploy/pools", undefined, { key })).status, 200);
  const revoked = await call("DELETE", `/deploy/keys/${made.body.id}`);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.revoked, true);
  assert.match(revoked.body.revoked_at, /^\d{4}-/);
  // The very next request with it is refused.
  const after = await call("GET", "/deploy/pools", undefined, { key });
  assert.equal(after.status, 401);
  assert.equal(after.body.code, "unauthorized");
  assert.equal((await call("GET", "/deploy/keys")).body.keys[0].revoked, true);
  // Revoking again keeps it revoked; unknown and malformed ids are 404.
  assert.equal((await call("DELETE", `/deploy/keys/${made.body.id}`)).status, 200);
  assert.equal((await call("DELETE", `/deploy/keys/${crypto.randomUUID()}`)).status, 404);
  assert.equal((await call("DELETE", "/deploy/keys/not-a-uuid")).status, 404);
});

dbTest("a key created with expires_in or expires_at stops working when it expires", async (db) => {
  let now = new Date("2026-05-01T12:00:00Z");
  const { call } = testApp(db, {}, { now: () => now });
  const brief = await call("POST", "/deploy/keys", {
    name: "brief",
    scopes: ["deploy"],
    expires_in: 3600,
  });
  assert.equal(brief.status, 201, JSON.stringify(brief.body));
  assert.equal(brief.body.expires_at, "2026-05-01T13:00:00.000Z");
  const dated = await call("POST", "/deploy/keys", {
    name: "dated",
    scopes: ["deploy"],
    expires_at: "2026-05-01T12:30:00Z",
  });
  assert.equal(dated.status, 201);
  const works = (key: string) => call("GET", "/deploy/pools", undefined, { key });
  assert.equal((await works(brief.body.key)).status, 200);
  assert.equal((await works(dated.body.key)).status, 200);
  now = new Date("2026-05-01T12:30:00Z");
  assert.equal((await works(dated.body.key)).status, 401);
  assert.equal((await works(brief.body.key)).status, 200);
  now = new Date("2026-05-01T13:00:01Z");
  const expired = await works(brief.body.key);
  assert.equal(expired.status, 401);
  assert.match(expired.body.detail, /expired/);

  const both = await call("POST", "/deploy/keys", {
    name: "x",
    scopes: ["deploy"],
    expires_in: 60,
    expires_at: "2027-01-01T00:00:00Z",
  });
  assert.equal(both.status, 422);
  assert.equal(both.body.errors[0].path, "expires_in");
  const past = await call("POST", "/deploy/keys", {
    name: "x",
    scopes: ["deploy"],
    expires_at: "2020-01-01T00:00:00Z",
  });
  assert.equal(past.status, 422);
  assert.equal(past.body.errors[0].path, "expires_at");
  for (const expires_in of [0, -5, 1.5, "60"]) {
    const bad = await call("POST", "/deploy/keys", { name: "x", scopes: ["deploy"], expires_in });
    assert.equal(bad.status, 422, String(expires_in));
    assert.equal(bad.body.errors[0].path, "expires_in");
  }
  assert.equal((await call("GET", "/deploy/keys")).body.keys.length, 2, "nothing written");
});

dbTest("managing keys needs the admin scope", async (db) => {
  const { call } = testApp(db);
  const deployer = await call("POST", "/deploy/keys", { name: "d", scopes: ["deploy"] });
  const admin = await call("POST", "/deploy/keys", { name: "a", scopes: ["admin"] });
  const key = deployer.body.key;
  assert.equal((await call("GET", "/deploy/keys", undefined, { key })).status, 403);
  assert.equal(
    (await call("POST", "/deploy/keys", { name: "x", scopes: ["admin"] }, { key })).status,
    403,
  );
  assert.equal(
    (await call("DELETE", `/deploy/keys/${admin.body.id}`, undefined, { key })).status,
    403,
  );
  assert.equal((await call("GET", "/deploy/keys", undefined, { key: admin.body.key })).status, 200);
  assert.equal(
    (await call("DELETE", `/deploy/keys/${deployer.body.id}`, undefined, { key: admin.body.key }))
      .status,
    200,
  );
});
