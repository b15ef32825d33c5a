/**
 * How results reach the server: failures with their retryability, outputs
 * the server cannot take, a stale lease (409, final) and a struggling
 * server (5xx, retried while the lease lives).
 */
import assert from "node:assert/strict";
import { NonRetryableError } from "../../shared/worker/mod.ts";
import { startFakeServer } from "./fake_server.ts";
import { gate, testWorker, waitFor } from "./helpers.ts";

const done = (status: string) => status === "COMPLETED" || status === "FAILED";

Deno.test("a throwing handler reports its message as retryable, and the retry succeeds", async () => {
  await using server = startFakeServer();
  const { worker } = testWorker(server, {
    handlers: {
      flaky: (ctx) => {
        if (ctx.attempt === 1) throw new TypeError("upstream timed out");
        return { attempt: ctx.attempt };
      },
    },
  });
  const failed: unknown[] = [];
  worker.on("task:failed", (e) => failed.push(e.error));
  const id = server.enqueue("flaky");
  try {
    await worker.start();
    await waitFor(() => done(server.tasks.get(id)!.status), "the retried task");
  } finally {
    await worker.stop();
  }
  const [fail] = server.results("fail", id);
  const error = fail.body.error as Record<string, unknown>;
  assert.equal(error.message, "upstream timed out");
  assert.equal(error.retryable, true);
  assert.equal(error.type, "TypeError");
  assert.equal(server.tasks.get(id)!.status, "COMPLETED");
  assert.deepEqual(server.tasks.get(id)!.output, { attempt: 2 });
  assert.equal(failed.length, 1);
});

Deno.test("NonRetryableError, or any error with retryable false, fails without retries", async () => {
  await using server = startFakeServer();
  const { worker } = testWorker(server, {
    handlers: {
      bad_input: () => {
        throw new NonRetryableError("day must be a date");
      },
      tagged: () => {
        throw Object.assign(new Error("quota exhausted"), { retryable: false });
      },
    },
  });
  const a = server.enqueue("bad_input"), b = server.enqueue("tagged");
  try {
    await worker.start();
    await waitFor(() => done(server.tasks.get(a)!.status) && done(server.tasks.get(b)!.status));
  } finally {
    await worker.stop();
  }
  for (const [id, message] of [[a, "day must be a date"], [b, "quota exhausted"]]) {
    const t = server.tasks.get(id)!;
    assert.equal(t.status, "FAILED");
    assert.equal(t.attempt, 1);
    assert.equal(t.error!.message, message);
    assert.equal(t.error!.retryable, false);
  }
});

Deno.test("a task for an unknown handler, or with a non-JSON output, fails non-retryably", async () => {
  await using server = startFakeServer({ ignoreHandlers: true });
  const { worker } = testWorker(server, { handlers: { big: () => ({ n: 10n }) } });
  const unknown = server.enqueue("not.ours"), big = server.enqueue("big");
  try {
    await worker.start();
    await waitFor(() =>
      done(server.tasks.get(unknown)!.status) && done(server.tasks.get(big)!.status)
    );
  } finally {
    await worker.stop();
  }
  assert.match(server.tasks.get(unknown)!.error!.message, /no handler named "not\.ours"/);
  assert.match(server.tasks.get(big)!.error!.message, /not JSON-serialisable/);
  for (const id of [unknown, big]) {
    assert.equal(server.tasks.get(id)!.status, "FAILED");
    assert.equal(server.tasks.get(id)!.error!.retryable, false);
  }
  assert.equal(server.results("complete").length, 0);
});

Deno.test("a 409 on complete is logged and dropped, never retried", async () => {
  await using server = startFakeServer({ heartbeatSeconds: 30 });
  const release = gate();
  const { worker, logs } = testWorker(server, {
    handlers: { step: () => release.promise.then(() => "late"), next: () => "fine" },
  });
  const id = server.enqueue("step");
  const after = server.enqueue("next");
  try {
    await worker.start();
    await waitFor(() => server.tasks.get(id)!.status === "RUNNING", "the claim");
    // The lease moves on (it expired, another worker has it) before the handler ends.
    server.stealLease(id);
    release.open();
    // The worker carries on: the freed slot takes the next task at once.
    await waitFor(() => server.tasks.get(after)!.status === "COMPLETED", "the next task");
  } finally {
    await worker.stop();
  }
  assert.equal(server.results("complete", id).length, 1);
  assert.equal(server.results("complete", id)[0].status, 409);
  assert.equal(server.tasks.get(id)!.status, "RUNNING");
  assert.ok(logs.some((l) => l.level === "warn" && /stale/.test(l.message)));
});

Deno.test("a 503 on complete is retried until it succeeds", async () => {
  await using server = startFakeServer();
  const { worker } = testWorker(server, { handlers: { step: () => ({ ok: 1 }) } });
  let report = "";
  worker.on("task:done", (e) => (report = e.report));
  server.inject("complete", 503, 503, 502);
  const id = server.enqueue("step");
  try {
    await worker.start();
    await waitFor(() => server.tasks.get(id)!.status === "COMPLETED", "the completion");
  } finally {
    await worker.stop();
  }
  const statuses = server.results("complete", id).map((r) => r.status);
  assert.deepEqual(statuses, [503, 503, 502, 200]);
  assert.deepEqual(server.tasks.get(id)!.output, { ok: 1 });
  assert.equal(report, "accepted");
});
