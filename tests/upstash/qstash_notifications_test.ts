/**
 * With QStash configured, a failed notification also gets a QStash wake-up at
 * its retry time (the real `@upstash/qstash` client against the local
 * look-alike); the signed callback drains the outbox, a forged one is refused.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { startQstashServer } from "../support/qstash_server.ts";
import { qstashApp } from "../support/qstash_app.ts";
import { startReceiver } from "../webhooks/receiver.ts";

dbTest("a retry is woken by a signed QStash callback at its time", async (db) => {
  await using qstash = await startQstashServer();
  await using receiver = startReceiver((n) => (n === 1 ? 503 : 200));
  const { app, clock, pending, call } = qstashApp(db, qstash);
  await call("POST", "/deploy/notifications", {
    name: "ops",
    url: receiver.url,
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    events: ["run.cancelled"],
  });
  await call("POST", "/register", { name: "f", steps: [{ slug: "a" }] });
  const run = await call("POST", "/trigger/flows/f", {});
  const cancelled = await call("POST", `/trigger/runs/${run.body.run_id}/cancel`);
  assert.equal(cancelled.status, 202);
  while (pending.length) await pending.shift();
  assert.equal(receiver.received.length, 1);

  const [message] = [...qstash.messages.values()];
  assert.equal(message.destination, "http://edgeflow.test/trigger/notifications/drain");
  const [d] = (await call("GET", "/deploy/notifications/ops/deliveries")).body.deliveries;
  assert.equal(message.notBefore, String(Math.floor(Date.parse(d.next_attempt_at) / 1000)));
  assert.equal(message.deduplicationId, `${d.message_id}-1`);

  // A forged callback, and one with no signature and no key, drain nothing.
  await clock.advance(31);
  const forged = await qstash.deliver(message.messageId, {
    key: "not-the-key",
    fetch: (r) => app.fetch(r),
  });
  assert.equal(forged.status, 401);
  const bare = await app.request("/trigger/notifications/drain", { method: "POST", body: "{}" });
  assert.equal(bare.status, 401);
  assert.equal(receiver.received.length, 1);

  const woken = await qstash.deliver(message.messageId, { fetch: (r) => app.fetch(r) });
  assert.equal(woken.status, 200, woken.body);
  assert.equal(JSON.parse(woken.body).delivered, 1);
  assert.equal(receiver.received.length, 2);
  assert.equal(receiver.received[1].headers["webhook-id"], d.message_id);
});
