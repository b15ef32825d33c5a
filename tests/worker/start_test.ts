/**
 * `start()` and `createWorker` failing loudly: a rejected key, an
 * unreachable server, options that cannot work — and recovering from a
 * server that fails for a moment.
 */
import assert from "node:assert/strict";
import { createWorker, KeyRefusedError, WorkerStartError } from "../../shared/worker/mod.ts";
import { startFakeServer } from "./fake_server.ts";
import { testWorker, waitFor } from "./helpers.ts";

const handlers = { noop: () => null };

for (
  const [status, pattern] of [[401, /does not know the key/], [403, /lacks scope worker/]] as const
) {
  Deno.test(`start() rejects a key with ${status} at once, with a WorkerStartError`, async () => {
    await using server = startFakeServer();
    const key = status === 401 ? "ef_wrong" : server.readOnlyKey;
    const { worker } = testWorker(server, { handlers, key });
    const err = await worker.start().then(() => null, (e) => e);
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.status, status);
    assert.match(err.message, pattern);
    assert.equal(server.requests.length, 1); // a rejected key is not retried
    assert.equal(worker.state, "idle");
    await worker.stop();
    assert.equal(worker.state, "stopped");
  });
}

Deno.test("start() gives up on an unreachable server after its retries", async () => {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const worker = createWorker({
    url: "http://127.0.0.1:1",
    key: "ef_x",
    handlers,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    logger: () => {},
  });
  const err = await worker.start().then(() => null, (e) => e);
  assert.ok(err instanceof WorkerStartError);
  assert.equal(err.status, undefined);
  assert.match(err.message, /unreachable after 3 attempts/);
  await worker.stop();
});

Deno.test("start() retries a failing first heartbeat and then runs", async () => {
  await using server = startFakeServer();
  server.inject("heartbeat", 503, 500);
  const { worker } = testWorker(server, { handlers });
  try {
    await worker.start();
    assert.equal(worker.state, "running");
  } finally {
    await worker.stop();
  }
  assert.deepEqual(server.requests.slice(0, 3).map((r) => r.status), [503, 500, 200]);
});

Deno.test("createWorker refuses options that cannot work", () => {
  const base = { url: "http://localhost:8000", key: "ef_x", handlers };
  assert.throws(() => createWorker({ ...base, url: "localhost:8000" }), TypeError);
  assert.throws(() => createWorker({ ...base, key: "" }), TypeError);
  assert.throws(() => createWorker({ ...base, handlers: {} }), /at least one/);
  assert.throws(() => createWorker({ ...base, capacity: 0 }), /capacity/);
  assert.throws(() => createWorker({ ...base, capacity: 1.5 }), /capacity/);
  assert.throws(() => createWorker({ ...base, pollSeconds: 0 }), /pollSeconds/);
  assert.throws(
    () => createWorker({ ...base, handlers: { x: "nope" as unknown as () => null } }),
    /not a function/,
  );
  assert.match(createWorker(base).name, /^w-[0-9a-f]{8}$/);
});

for (const status of [401, 403]) {
  Deno.test(`a key refused mid-run (${status}) stops the worker, once, instead of retrying`, async () => {
    await using server = startFakeServer();
    const { worker, logs } = testWorker(server, { handlers, pollSeconds: 0.01 });
    const fatal: Error[] = [];
    worker.on("fatal", ({ error }) => fatal.push(error));
    await worker.start();
    server.inject("heartbeat", status);
    await waitFor(() => worker.state === "stopped", "the worker to stop itself");
    assert.equal(fatal.length, 1);
    assert.ok(fatal[0] instanceof KeyRefusedError);
    assert.equal((fatal[0] as KeyRefusedError).status, status);
    assert.match(fatal[0].message, status === 401 ? /no longer knows the key/ : /lacks scope/);
    assert.ok(logs.some((l) => l.level === "error" && /the worker stopped/.test(l.message)));
    const refusedBeats = server.requests.filter((r) => r.status === status).length;
    assert.equal(refusedBeats, 1, "not retried");
  });
}
