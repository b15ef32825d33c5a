/**
 * The publisher drives the real `@upstash/qstash` Client against the local
 * QStash look-alike; these tests read what actually went over the wire.
 */
import assert from "node:assert/strict";
import { Client } from "@upstash/qstash";
import { createQstashPublisher, qstashPublisherFromEnv } from "../../shared/qstash/publish.ts";
import { startQstashServer } from "../support/qstash_server.ts";

const destination = "http://edgeflow.test/trigger/etl-nightly";

Deno.test("publisher sends a delayed message with its deduplication id and headers", async () => {
  await using qstash = await startQstashServer();
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });

  const first = await publisher.publishDelayed({
    url: destination,
    body: { parameters: { day: "2026-11-22" } },
    delaySeconds: 30,
    deduplicationId: "run-42-start",
    headers: { "X-Edgeflow-Run": "42" },
  });
  assert.match(first.messageId, /^msg_/);
  assert.equal(first.deduplicated, false);

  const [request] = qstash.requests;
  assert.equal(request.method, "POST");
  assert.equal(request.path, `/v2/publish/${destination}`);
  assert.equal(request.headers["authorization"], `Bearer ${qstash.token}`);
  assert.equal(request.headers["upstash-delay"], "30s");
  assert.equal(request.headers["upstash-deduplication-id"], "run-42-start");
  assert.equal(request.headers["upstash-forward-x-edgeflow-run"], "42");
  assert.equal(request.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(request.body), { parameters: { day: "2026-11-22" } });

  const message = qstash.messages.get(first.messageId)!;
  assert.equal(message.destination, destination);
  assert.deepEqual(message.forwardHeaders, {
    "content-type": "application/json",
    "x-edgeflow-run": "42",
  });

  // Publishing again with the same id (a retried trigger) enqueues nothing new.
  const again = await publisher.publishDelayed({
    url: destination,
    body: { parameters: { day: "2026-11-22" } },
    delaySeconds: 30,
    deduplicationId: "run-42-start",
  });
  assert.deepEqual(again, { messageId: first.messageId, deduplicated: true });
  assert.equal(qstash.messages.size, 1);
});

Deno.test("publisher sends an absolute not-before time as unix seconds", async () => {
  await using qstash = await startQstashServer();
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  const at = new Date("2030-01-02T03:04:05.678Z");
  const { messageId } = await publisher.publishDelayed({
    url: destination,
    body: "raw",
    notBefore: at,
  });
  const message = qstash.messages.get(messageId)!;
  assert.equal(message.notBefore, String(Math.floor(at.getTime() / 1000)));
  assert.equal(message.delay, null);
  assert.equal(message.body, "raw");
  assert.equal(qstash.requests[0].headers["upstash-deduplication-id"], undefined);

  await assert.rejects(
    () => publisher.publishDelayed({ url: destination, body: "", notBefore: at, delaySeconds: 1 }),
    TypeError,
  );
});

Deno.test("schedules are upserted under a stable id and deleted idempotently", async () => {
  await using qstash = await startQstashServer();
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  const input = {
    scheduleId: "edgeflow-sched-1",
    destination,
    cron: "30 15 * * 1-5",
    timezone: "Asia/Kolkata",
    body: { schedule: "edgeflow-sched-1" },
  };
  assert.deepEqual(await publisher.upsertSchedule(input), { scheduleId: "edgeflow-sched-1" });
  assert.deepEqual(await publisher.upsertSchedule({ ...input, cron: "0 * * * *" }), {
    scheduleId: "edgeflow-sched-1",
  });
  const request = qstash.requests[0];
  assert.equal(request.path, `/v2/schedules/${destination}`);
  assert.equal(request.headers["upstash-cron"], "CRON_TZ=Asia/Kolkata 30 15 * * 1-5");
  assert.equal(request.headers["upstash-schedule-id"], "edgeflow-sched-1");

  // The real client's listing sees one schedule, replaced in place.
  const client = new Client({ token: qstash.token, baseUrl: qstash.url, devMode: false });
  const listed = await client.schedules.list();
  assert.equal(listed.length, 1);
  assert.equal(listed[0].cron, "CRON_TZ=Asia/Kolkata 0 * * * *");
  assert.equal(listed[0].destination, destination);

  await publisher.deleteSchedule("edgeflow-sched-1");
  await publisher.deleteSchedule("edgeflow-sched-1"); // already gone: still fine
  assert.equal(qstash.schedules.size, 0);
  const deletes = qstash.requests.filter((r) => r.method === "DELETE");
  assert.deepEqual(deletes.map((r) => r.path), [
    "/v2/schedules/edgeflow-sched-1",
    "/v2/schedules/edgeflow-sched-1",
  ]);
});

Deno.test("publisher surfaces QStash's refusal of a bad token", async () => {
  await using qstash = await startQstashServer();
  const publisher = createQstashPublisher({ token: "not-the-token", baseUrl: qstash.url });
  await assert.rejects(
    () => publisher.publishDelayed({ url: destination, body: {}, delaySeconds: 1 }),
    /Unauthorized/,
  );
});

Deno.test("publisher is configured from QSTASH_TOKEN and QSTASH_URL only", async () => {
  assert.equal(qstashPublisherFromEnv({}), null);
  await using qstash = await startQstashServer();
  const publisher = qstashPublisherFromEnv({ QSTASH_TOKEN: qstash.token, QSTASH_URL: qstash.url });
  await publisher!.publishDelayed({ url: destination, body: {}, delaySeconds: 5 });
  assert.equal(qstash.messages.size, 1);
});
