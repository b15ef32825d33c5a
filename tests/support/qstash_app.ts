// deno-lint-ignore-file no-explicit-any
/**
 * The app as QStash-configured deployments run it: a public URL, the local
 * QStash look-alike's token and signing keys, the engine's movable clock,
 * and background work collected so a test can wait for it (`settle`).
 */
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { ADMIN_KEY } from "./app.ts";
import { testClock } from "./clock.ts";
import type { TestDatabase } from "./db.ts";
import type { startQstashServer } from "./qstash_server.ts";

export function qstashApp(
  db: TestDatabase,
  qstash: Awaited<ReturnType<typeof startQstashServer>>,
) {
  const clock = testClock(db.sql);
  const pending: Promise<unknown>[] = [];
  const app = createApp({
    sql: () => db.sql,
    config: {
      adminKey: ADMIN_KEY,
      heartbeatSeconds: 10,
      leaseSeconds: 30,
      publicUrl: "http://edgeflow.test",
      qstash: {
        token: qstash.token,
        url: qstash.url,
        currentSigningKey: qstash.currentSigningKey,
        nextSigningKey: qstash.nextSigningKey,
      },
    },
    log: silentLogger,
    now: clock.now,
    background: (_c, task) => void pending.push(task(db.sql)),
  });
  /** A JSON call with the admin key; an empty answer's body is null. */
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };
  /** Wait for the background work requests have started so far. */
  const settle = async () => {
    while (pending.length) await pending.shift();
  };
  return { app, clock, pending, call, settle };
}
