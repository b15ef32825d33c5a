/** A worker name belongs to the key that first used it (issue 10 item 14). */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { testApp } from "../support/app.ts";

function setup(db: TestDatabase) {
  const t = testApp(db);
  const mint = async (name: string, scopes: string[]) =>
    (await t.call("POST", "/deploy/keys", { name, scopes })).body as { id: string; key: string };
  const beat = (worker: string, key: string | undefined, pool = "default", capacity = 0) =>
    t.call("POST", "/heartbeat", { worker, pool, capacity }, { key });
  const workers = async () =>
    (await t.call("GET", "/heartbeat/workers")).body.workers as { name: string; pool: string }[];
  return { ...t, mint, beat, workers };
}

dbTest("another worker key cannot take over a worker name: 409 worker_name_taken", async (db) => {
  const { mint, beat, workers } = setup(db);
  const a = await mint("a", ["worker"]);
  const b = await mint("b", ["worker"]);
  assert.equal((await beat("w-1", a.key)).status, 200);
  assert.equal((await beat("w-1", a.key)).status, 200, "the same key keeps its name");

  const taken = await beat("w-1", b.key, "elsewhere", 5);
  assert.equal(taken.status, 409);
  assert.equal(taken.body.code, "worker_name_taken");
  assert.match(taken.body.detail, /"w-1" belongs to another API key/);
  assert.equal(taken.body.errors[0].path, "worker");
  assert.deepEqual(
    (await workers()).map((w) => [w.name, w.pool]),
    [["w-1", "default"]],
    "the record is unchanged",
  );
  assert.equal((await beat("w-2", b.key)).status, 200, "b has names of its own");
  assert.equal((await beat("w-2", a.key)).status, 409);
});

dbTest("admin keys may heartbeat as any name and bind names they start", async (db) => {
  const { mint, beat } = setup(db);
  const a = await mint("a", ["worker"]);
  const admin = await mint("ops", ["admin"]);
  assert.equal((await beat("w-1", a.key)).status, 200);
  assert.equal((await beat("w-1", undefined)).status, 200, "the bootstrap admin key");
  assert.equal((await beat("w-1", admin.key)).status, 200, "an admin-scoped key");
  assert.equal((await beat("w-1", a.key)).status, 200, "and the name is still a's");
  // A name the admin key started is not free for worker keys.
  assert.equal((await beat("dev-worker", undefined)).status, 200);
  assert.equal((await beat("dev-worker", a.key)).status, 409);
});

dbTest("revoking a key frees the worker names it held", async (db) => {
  const { mint, beat, call } = setup(db);
  const a = await mint("a", ["worker"]);
  const b = await mint("b", ["worker"]);
  assert.equal((await beat("w-1", a.key)).status, 200);
  assert.equal((await beat("w-1", b.key)).status, 409);
  assert.equal((await call("DELETE", `/deploy/keys/${a.id}`)).status, 200);
  assert.equal((await beat("w-1", a.key)).status, 401);
  assert.equal((await beat("w-1", b.key)).status, 200, "the replacement key takes the name");
});

dbTest("two keys racing for a new name: exactly one gets it", async (db, kind) => {
  const { mint, beat } = setup(db);
  const keys = await Promise.all([0, 1, 2, 3].map((i) => mint(`k${i}`, ["worker"])));
  const results = await Promise.all(keys.map((k) => beat(`race-${kind}`, k.key)));
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409]);
});
