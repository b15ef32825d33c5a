/**
 * The worker against a misbehaving control plane: failing heartbeats, and a
 * server that hands out more tasks than it was asked for. The second uses
 * the `fetch` seam to rewrite requests on their way out.
 */
import assert from "node:assert/strict";
import { startFakeServer } from "./fake_server.ts";
import { delay, testWorker, waitFor } from "./helpers.ts";

Deno.test("a failing heartbeat is retried and reported, and the loop carries on", async () => {
  await using server = startFakeServer({ heartbeatSeconds: 0.05 });
  const { worker, logs } = testWorker(server, { handlers: { step: () => "ok" } });
  const errors: string[] = [];
  worker.on("error", (e) => errors.push(`${e.during}: ${String(e.error)}`));
  try {
    await worker.start();
    server.inject("heartbeat", 503, 503);
    await waitFor(() => errors.length === 2, "two heartbeat errors");
    const id = server.enqueue("step");
    await waitFor(() => server.tasks.get(id)!.status === "COMPLETED", "work after the outage");
  } finally {
    await worker.stop();
  }
  assert.match(errors[0], /^heartbeat: HttpError: \/heartbeat answered 503 injected/);
  assert.ok(logs.some((l) => l.level === "warn" && l.message === "heartbeat failed"));
});

Deno.test("a server that sends more tasks than asked never pushes handlers past capacity", async () => {
  await using server = startFakeServer({ heartbeatSeconds: 30 });
  // Ask for 5 whatever the worker wants: the extra tasks must wait in the worker.
  const greedy: typeof fetch = (input, init) => {
    const body = JSON.parse(String(init!.body));
    if (String(input).endsWith("/heartbeat") && body.capacity > 0) body.capacity = 5;
    return fetch(input, { ...init, body: JSON.stringify(body) });
  };
  let now = 0, most = 0;
  const { worker } = testWorker(server, {
    capacity: 2,
    fetch: greedy,
    handlers: {
      step: async () => {
        most = Math.max(most, ++now);
        await delay(10);
        now--;
      },
    },
  });
  const ids = Array.from({ length: 5 }, () => server.enqueue("step"));
  try {
    await worker.start();
    await waitFor(() => ids.every((id) => server.tasks.get(id)!.status === "COMPLETED"), "all");
  } finally {
    await worker.stop();
  }
  assert.equal(most, 2);
  // Queued tasks kept their leases: every one was claimed once.
  for (const id of ids) assert.equal(server.tasks.get(id)!.attempt, 1);
});
