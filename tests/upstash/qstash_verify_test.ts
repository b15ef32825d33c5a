/**
 * Inbound QStash deliveries: signed by the local look-alike exactly as QStash
 * signs, checked by the real `Receiver`, and admitted or refused by our Hono
 * middleware before any handler sees the body.
 */
import assert from "node:assert/strict";
import { Receiver } from "@upstash/qstash";
import { Hono } from "hono";
import { createQstashPublisher } from "../../shared/qstash/publish.ts";
import {
  type QstashEnv,
  qstashVerified,
  SignatureError,
  verifyQstashSignature,
} from "../../shared/qstash/verify.ts";
import { signQstashJwt, startQstashServer } from "../support/qstash_server.ts";
import { MemoryDuplicateGuard } from "./memory_store.ts";

const destination = "http://edgeflow.test/trigger/tick";

Deno.test("local signatures pass the real Receiver; a tampered body or wrong key does not", async () => {
  const key = "sig_current_test";
  const body = JSON.stringify({ tick: 1 });
  const signature = await signQstashJwt({ key, url: destination, body });
  const receiver = new Receiver({ currentSigningKey: key, nextSigningKey: "sig_next_test" });
  assert.equal(await receiver.verify({ signature, body, url: destination }), true);
  await assert.rejects(() => receiver.verify({ signature, body: body + " " }), /body hash/);
  const wrong = new Receiver({ currentSigningKey: "a", nextSigningKey: "b", devMode: false });
  await assert.rejects(() => wrong.verify({ signature, body }), /signature/);
});

type Keys = { currentSigningKey: string; nextSigningKey: string };
// Only the keys: the server object also has a `url` (its own), which is not ours to check.
const keysOf = ({ currentSigningKey, nextSigningKey }: Keys): Keys => ({
  currentSigningKey,
  nextSigningKey,
});

/** An app with one verified route that records what its handler saw. */
function verifiedApp(server: Keys, url?: string) {
  const seen: { body: string; json: unknown; messageId: string | null; retried: number }[] = [];
  const guard = new MemoryDuplicateGuard();
  const app = new Hono<QstashEnv>();
  app.post("/trigger/tick", qstashVerified({ ...keysOf(server), url }), async (c) => {
    const messageId = c.get("qstashMessageId");
    if (messageId && !(await guard.firstSeen(messageId, 3600))) {
      return c.json({ duplicate: true });
    }
    const json = await c.req.json(); // still readable: the middleware read through Hono's cache
    seen.push({
      body: c.get("qstashBody"),
      json,
      messageId,
      retried: c.get("qstashDelivery").retried,
    });
    return c.json({ ran: true });
  });
  return { app, seen };
}

async function publishTick(qstash: { token: string; url: string }, url = destination) {
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  return (await publisher.publishDelayed({ url, body: { tick: 7 }, delaySeconds: 0 })).messageId;
}

Deno.test("a genuine delivery reaches the handler with its raw body and message id", async () => {
  await using qstash = await startQstashServer();
  const { app, seen } = verifiedApp(qstash, destination);
  const messageId = await publishTick(qstash);

  const delivered = await qstash.deliver(messageId, { fetch: (r) => app.fetch(r) });
  assert.equal(delivered.status, 200);
  assert.deepEqual(seen, [{ body: '{"tick":7}', json: { tick: 7 }, messageId, retried: 0 }]);

  // QStash redelivers (at least once): same message id, so the handler's guard drops it.
  const again = await qstash.deliver(messageId, { redelivery: true, fetch: (r) => app.fetch(r) });
  assert.equal(again.status, 200);
  assert.deepEqual(JSON.parse(again.body), { duplicate: true });
  assert.equal(seen.length, 1);
});

Deno.test("a forged signature gets a 401 problem document and the handler never runs", async () => {
  await using qstash = await startQstashServer();
  const { app, seen } = verifiedApp(qstash);
  const messageId = await publishTick(qstash);

  const forged = await qstash.deliver(messageId, {
    key: "sig_guessed",
    fetch: (r) => app.fetch(r),
  });
  assert.equal(forged.status, 401);
  const problem = JSON.parse(forged.body);
  assert.equal(problem.code, "invalid_signature");
  assert.equal(problem.status, 401);
  assert.equal(typeof problem.type, "string");
  assert.equal(typeof problem.title, "string");
  assert.equal(typeof problem.detail, "string");

  const unsigned = await app.request("/trigger/tick", { method: "POST", body: '{"tick":7}' });
  assert.equal(unsigned.status, 401);
  assert.equal(unsigned.headers.get("content-type"), "application/problem+json");
  assert.match((await unsigned.json()).detail, /missing Upstash-Signature/);
  assert.equal(seen.length, 0);
});

Deno.test("during key rotation a delivery signed with the next key is accepted", async () => {
  await using qstash = await startQstashServer();
  const { app, seen } = verifiedApp(qstash);
  const messageId = await publishTick(qstash);
  const res = await qstash.deliver(messageId, {
    key: qstash.nextSigningKey,
    fetch: (r) => app.fetch(r),
  });
  assert.equal(res.status, 200);
  assert.equal(seen.length, 1);
});

Deno.test("a tampered body, an expired token or another endpoint's token is refused", async () => {
  await using qstash = await startQstashServer();
  const { app, seen } = verifiedApp(qstash, destination);
  const fetch = (r: Request) => app.fetch(r);
  const messageId = await publishTick(qstash);

  const tampered = await qstash.deliver(messageId, { sendBody: '{"tick":8}', fetch });
  assert.equal(tampered.status, 401);
  assert.match(JSON.parse(tampered.body).detail, /body hash/);

  const expired = await qstash.deliver(messageId, { now: Date.now() - 10 * 60_000, fetch });
  assert.equal(expired.status, 401);

  // Signed for another endpoint, replayed at ours: `sub` does not match.
  const elsewhere = await publishTick(qstash, "http://edgeflow.test/trigger/other");
  const replayed = await qstash.deliver(elsewhere, {
    fetch: (r) => app.fetch(new Request(destination, r)),
  });
  assert.equal(replayed.status, 401);
  assert.match(JSON.parse(replayed.body).detail, /subject/);
  assert.equal(seen.length, 0);
});

Deno.test("a schedule fires over the network into a served app", async () => {
  await using qstash = await startQstashServer();
  const app = new Hono<QstashEnv>();
  const fired: (string | null)[] = [];
  // Behind no proxy, the URL the app sees is the one QStash signed for.
  const verified = qstashVerified({ ...keysOf(qstash), url: (c) => c.req.url });
  app.post("/trigger/tick", verified, (c) => {
    fired.push(c.get("qstashDelivery").scheduleId);
    return c.body(null, 204);
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/trigger/tick`;
  const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
  await publisher.upsertSchedule({ scheduleId: "tick", destination: url, cron: "* * * * *" });

  const res = await qstash.fire("tick");
  assert.equal(res.status, 204);
  assert.deepEqual(fired, ["tick"]);
});

Deno.test("verification refuses a missing header with a typed error, and missing keys loudly", async () => {
  const error = await verifyQstashSignature(
    { headers: new Headers(), body: "" },
    { currentSigningKey: "k" },
  ).catch((e) => e);
  assert.ok(error instanceof SignatureError);
  assert.equal(error.reason, "missing_signature");
  assert.throws(() => qstashVerified({ currentSigningKey: "" }), TypeError);
});
