/**
 * A long poll served by the Deno runtime's dependencies ends when its client
 * leaves, even a client that wrote the request's head and body apart — as
 * Python's `http.client` and many other clients do. Deno's serve does not
 * abort `request.signal` for such a client; the streamed answer sees it on
 * its next write. Nothing is claimed for it afterwards.
 */
import assert from "node:assert/strict";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { until } from "../faults/harness.ts";

dbTest(
  "a Deno-served long poll ends when a client that wrote head and body apart leaves",
  async (db) => {
    const deps = await denoDeps(
      { EDGEFLOW_ADMIN_KEY: ADMIN_KEY, EDGEFLOW_DATA_DIR: "memory" },
      db.sql,
    );
    // The polls the runtime streams, to see when one ends. Without streaming
    // the answer's headers only come when the poll ends, 20 s later, with none.
    const polls: Promise<unknown>[] = [];
    const keep = deps.keepUntil;
    let heartbeats = 0;
    const app = createApp({
      ...deps,
      log: silentLogger,
      keepUntil: keep && ((c, work) => {
        keep(c, work);
        polls.push(work);
      }),
    });
    const { call } = testApp(db);
    assert.equal(
      (await call("POST", "/register", { name: "split", steps: [{ slug: "a", max_attempts: 1 }] }))
        .status,
      201,
    );
    await call("POST", "/deploy", { name: "split-dep", flow: "split" });

    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      if (req.method === "POST") heartbeats++;
      return app.fetch(req);
    });
    try {
      const body = JSON.stringify({
        worker: "split-w",
        pool: "default",
        capacity: 1,
        wait_seconds: 20,
      });
      const head = `POST /heartbeat HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
        `authorization: Bearer ${ADMIN_KEY}\r\ncontent-type: application/json\r\n` +
        `content-length: ${new TextEncoder().encode(body).length}\r\n\r\n`;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(new TextEncoder().encode(head));
      // Two reads on the server's side: the head alone first.
      await new Promise((r) => setTimeout(r, 50));
      await conn.write(new TextEncoder().encode(body));
      // The answer's headers come at once: the poll is waiting.
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
      assert.equal(polls.length, 1);
      conn.close();

      // The poll ends well before its 20 s (the `until` gives up at 10 s) ...
      let ended = false;
      polls[0].finally(() => (ended = true));
      await until("the long poll to end", () => ended, { timeoutMs: 10_000, everyMs: 20 });
      // ... and work arriving afterwards is nobody's: still QUEUED, no attempt spent.
      const run = await call("POST", "/trigger/split-dep", {});
      assert.equal(run.status, 201);
      const [task] = await db.sql<{ status: string; attempts: number; worker: string | null }>`
      select status, attempts, worker from edgeflow.tasks where run_id = ${run.body.run_id}::uuid`;
      assert.deepEqual({ ...task }, { status: "QUEUED", attempts: 0, worker: null });
      assert.equal(heartbeats, 1);
    } finally {
      await server.shutdown();
    }
  },
);
