/**
 * The tick's maintenance pass prunes the Postgres rate-limit counters and
 * duplicate keys (issue 10 item 17): ended windows and expired keys go,
 * live ones stay. The tick is the production path (POST /trigger/tick, the
 * Cloudflare cron, pg_cron), so this goes through it.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

dbTest("a tick prunes ended rate-limit windows and expired duplicate keys", async (db) => {
  const { call } = testApp(db);
  // Through the real functions: a zero-length window or TTL has ended by the next statement.
  await db
    .sql`select edgeflow.rate_limit_hit('ended-now', 0), edgeflow.first_seen('expired-now', 0)`;
  await db.sql`
    insert into edgeflow.rate_limit_windows (key, count, window_end) values
      ('ended', 3, now() - interval '1 minute'), ('live', 1, now() + interval '1 hour')`;
  await db.sql`
    insert into edgeflow.duplicate_keys (key, expires_at) values
      ('expired', now() - interval '1 day'), ('live', now() + interval '1 hour')`;

  const res = await call("POST", "/trigger/tick");
  assert.equal(res.status, 200);
  assert.equal(res.body.pruned, 4);
  const windows = await db.sql<{ key: string }>`select key from edgeflow.rate_limit_windows`;
  const keys = await db.sql<{ key: string }>`select key from edgeflow.duplicate_keys`;
  assert.deepEqual(windows.map((r) => r.key), ["live"]);
  assert.deepEqual(keys.map((r) => r.key), ["live"]);

  const again = await call("POST", "/trigger/tick");
  assert.equal(again.body.pruned, 0);
});
