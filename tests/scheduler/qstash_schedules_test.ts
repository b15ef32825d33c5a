/**
 * Schedules delivered by QStash: the tick publishes one delayed message per
 * fire time with the real `@upstash/qstash` client to the local look-alike,
 * which delivers it back to `/trigger/schedules/:id/fire` with genuine
 * signatures. No network: the app is called through `app.fetch`.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { startQstashServer } from "../support/qstash_server.ts";
import { createQstashPublisher } from "../../shared/qstash/publish.ts";
import type { Sql } from "../../shared/db/sql.ts";
import {
  Clock,
  clockApp,
  deploy,
  fireTimesOf,
  onlySchedule,
  registerFlow,
  tick,
} from "./helpers.ts";

const PUBLIC = "http://edgeflow.test";

async function deliveriesRecorded(sql: Sql): Promise<number> {
  const [{ n }] = await sql<
    { n: number }
  >`select count(*)::int as n from edgeflow.qstash_deliveries`;
  return n;
}

dbTest("the tick publishes fire times; a verified delivery creates the run once", async (db) => {
  await using qstash = await startQstashServer();
  const clock = Clock.at("2026-11-23T08:04:00Z");
  const config = {
    publicUrl: PUBLIC,
    qstash: { token: qstash.token, url: qstash.url, ...keys(qstash) },
  };
  const { app, call } = clockApp(db.sql, clock, config);
  const fetch = (r: Request) => app.fetch(r);
  await registerFlow(call);
  const s = onlySchedule(await deploy(call, { name: "q", schedules: [{ cron: "*/5 * * * *" }] }));

  const ticked = await tick(call);
  assert.deepEqual([ticked.published, ticked.created], [1, 0]);
  const [message] = [...qstash.messages.values()];
  assert.equal(message.destination, `${PUBLIC}/trigger/schedules/${s.id}/fire`);
  assert.deepEqual(JSON.parse(message.body), {
    schedule_id: s.id,
    scheduled_time: "2026-11-23T08:05:00.000Z",
  });
  assert.equal(message.notBefore, String(Date.parse("2026-11-23T08:05:00Z") / 1000));
  assert.equal(message.deduplicationId, `${s.id}.${Date.parse("2026-11-23T08:05:00Z")}`);
  assert.equal((await tick(call)).published, 0, "the schedule moved on");
  // A tick that published but died before its write publishes again: QStash deduplicates.
  await db.sql`update edgeflow.schedules set next_fire_at = '2026-11-23T08:05:00Z'`;
  assert.equal((await tick(call)).published, 1);
  assert.equal(qstash.messages.size, 1);

  // Forged, tampered and unsigned deliveries: 401, nothing written.
  const forged = await qstash.deliver(message.messageId, { key: "sig_guessed", fetch });
  assert.equal(forged.status, 401);
  assert.equal(JSON.parse(forged.body).code, "invalid_signature");
  const tampered = await qstash.deliver(message.messageId, {
    sendBody: JSON.stringify({ schedule_id: s.id, scheduled_time: "2026-11-23T08:10:00.000Z" }),
    fetch,
  });
  assert.equal(tampered.status, 401);
  const unsigned = await app.request(message.destination, { method: "POST", body: message.body });
  assert.equal(unsigned.status, 401);
  assert.deepEqual(await fireTimesOf(db.sql, s.id), []);
  assert.equal(await deliveriesRecorded(db.sql), 0);

  // The genuine delivery creates the run; QStash's redelivery creates nothing new.
  const first = await qstash.deliver(message.messageId, { fetch });
  assert.equal(first.status, 200, first.body);
  assert.equal(JSON.parse(first.body).created, 1);
  const again = await qstash.deliver(message.messageId, { redelivery: true, fetch });
  assert.equal(again.status, 200);
  assert.deepEqual([JSON.parse(again.body).duplicate, JSON.parse(again.body).created], [true, 0]);
  assert.deepEqual(await fireTimesOf(db.sql, s.id), ["2026-11-23T08:05:00.000Z"]);

  // The same fire time under another message id: still one run.
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  const publish = async (time: string, url = message.destination, id = s.id) =>
    (await publisher.publishDelayed({
      url,
      body: { schedule_id: id, scheduled_time: time },
      delaySeconds: 0,
    })).messageId;
  const other = await qstash.deliver(await publish("2026-11-23T08:05:00Z"), { fetch });
  assert.deepEqual([other.status, JSON.parse(other.body).created], [200, 0]);
  // Signed with the next key (rotation in progress): accepted.
  const rotated = await qstash.deliver(
    await publish("2026-11-23T08:10:00.000Z"),
    { key: qstash.nextSigningKey, fetch },
  );
  assert.deepEqual([rotated.status, JSON.parse(rotated.body).created], [200, 1]);
  // Not a fire time, or no such schedule: 2xx (QStash must not retry), nothing created.
  const odd = await qstash.deliver(await publish("2026-11-23T08:07:00Z"), { fetch });
  assert.match(JSON.parse(odd.body).skipped, /not a fire time/);
  const ghostId = crypto.randomUUID();
  const ghost = `${PUBLIC}/trigger/schedules/${ghostId}/fire`;
  const gone = await qstash.deliver(await publish("2026-11-23T08:05:00Z", ghost, ghostId), {
    fetch,
  });
  assert.deepEqual([gone.status, JSON.parse(gone.body).skipped], [200, "no such schedule"]);
  // Signed but malformed, or for another schedule than its URL's: a 422, not a 500.
  const bad = await qstash.deliver(await publish("soon"), { fetch });
  assert.equal(bad.status, 422);
  assert.equal(JSON.parse(bad.body).errors[0].path, "scheduled_time");
  const misrouted = await qstash.deliver(
    await publish("2026-11-23T08:15:00Z", message.destination, ghostId),
    { fetch },
  );
  assert.deepEqual([misrouted.status, JSON.parse(misrouted.body).errors[0].path], [
    422,
    "schedule_id",
  ]);
  assert.deepEqual(await fireTimesOf(db.sql, s.id), [
    "2026-11-23T08:05:00.000Z",
    "2026-11-23T08:10:00.000Z",
  ]);
});

dbTest("without signing keys every QStash callback is refused", async (db) => {
  await using qstash = await startQstashServer();
  const { app, call } = clockApp(db.sql, Clock.at("2026-11-23T08:04:00Z"), { publicUrl: PUBLIC });
  await registerFlow(call);
  const s = onlySchedule(
    await deploy(call, { name: "nokeys", schedules: [{ cron: "*/5 * * * *" }] }),
  );
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  const { messageId } = await publisher.publishDelayed({
    url: `${PUBLIC}/trigger/schedules/${s.id}/fire`,
    body: { schedule_id: s.id, scheduled_time: "2026-11-23T08:05:00Z" },
  });
  const res = await qstash.deliver(messageId, { fetch: (r) => app.fetch(r) });
  assert.equal(res.status, 401);
  assert.deepEqual(await fireTimesOf(db.sql, s.id), []);
});

function keys(q: { currentSigningKey: string; nextSigningKey: string }) {
  return { currentSigningKey: q.currentSigningKey, nextSigningKey: q.nextSigningKey };
}
