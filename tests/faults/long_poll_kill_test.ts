/**
 * An SDK worker process waiting in a long-poll heartbeat leaves, SIGKILLed
 * or stopped by SIGTERM (`worker.stop()` ends its own poll). A trigger right
 * after must go to a live worker at once, on attempt 1, instead of being
 * leased to the gone worker and waiting out its lease (issue 10, item 1).
 * Real processes, real sockets; the test waits until the server has seen
 * the connection close, then triggers while the orphaned poll would still
 * be waiting.
 */
import assert from "node:assert/strict";
import { createApp } from "../../shared/app/app.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, until } from "./harness.ts";

const SDK_WORKER = new URL("./sdk_worker_process.ts", import.meta.url).pathname;

/** `sql`, calling `seen` with each statement's values once it has run. */
function spied(sql: Sql, seen: (text: string, values: unknown[]) => void): Sql {
  const out = (async (strings: TemplateStringsArray, ...values: unknown[]) => {
    const rows = await sql(strings, ...values);
    seen(strings.join("?"), values);
    return rows;
  }) as Sql;
  return Object.assign(out, {
    driver: sql.driver,
    begin: <T>(fn: (tx: Sql) => Promise<T>) => sql.begin(fn),
    exec: (script: string) => sql.exec(script),
    end: () => sql.end(),
  });
}

function spawnSdkWorker(url: string, worker: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      SDK_WORKER,
      "--url",
      url,
      "--key",
      ADMIN_KEY,
      "--worker",
      worker,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const events: { event: string; attempt?: number; task?: string }[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let nl; (nl = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(nl + 1)) {
        const line = buffer.slice(0, nl);
        if (line.startsWith("{")) events.push(JSON.parse(line));
      }
    }
  })();
  return {
    events,
    async signal(signal: Deno.Signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const status = await child.status;
      await reading.catch(() => {});
      return status;
    },
  };
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  dbTest(`an SDK worker ${signal}ed in a long poll is never handed the next task`, async (db) => {
    const beats = new Map<string, number>();
    const sql = spied(db.sql, (text, values) => {
      // The worker's name: the first argument of heartbeat, the third of
      // worker_heartbeat (key id and admin flag come first).
      if (text.includes("edgeflow.worker_heartbeat(") || text.includes("edgeflow.heartbeat(")) {
        const name = String(values[text.includes("worker_heartbeat(") ? 2 : 0]);
        beats.set(name, (beats.get(name) ?? 0) + 1);
      }
    });
    const app = createApp({
      sql: () => sql,
      config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
      log: silentLogger,
    });
    // Heartbeats whose client went away while they were still open.
    let disconnects = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const long = new URL(req.url).pathname === "/heartbeat";
      let answered = false;
      if (long) req.signal.addEventListener("abort", () => answered || disconnects++);
      try {
        return await app.fetch(req);
      } finally {
        answered = true;
      }
    });
    const url = `http://127.0.0.1:${server.addr.port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await app.request(path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const workers: ReturnType<typeof spawnSdkWorker>[] = [];
    try {
      const reg = await call("POST", "/register", {
        name: "restart",
        steps: [{ slug: "only", handler: "echo", max_attempts: 1 }],
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));

      const leaving = spawnSdkWorker(url, "leaving");
      workers.push(leaving);
      // Its first beat found nothing; the second is the long poll, now waiting.
      await until("the long poll", () => (beats.get("leaving") ?? 0) >= 2);
      await leaving.signal(signal);
      await until("the server to see the connection close", () => disconnects >= 1);

      const run = await call("POST", "/trigger/flows/restart", {});
      assert.equal(run.status, 201);
      const live = spawnSdkWorker(url, "live");
      workers.push(live);
      const done = await until(
        "the live worker's result",
        () => live.events.find((e) => e.event === "completed"),
      );
      assert.equal(done.attempt, 1, "the task went to the live worker on its first attempt");
      const final = await until("the run to complete", async () => {
        const r = await call("GET", `/trigger/runs/${run.body.run_id}`);
        return r.body.status === "COMPLETED" ? r.body : undefined;
      });
      assert.deepEqual(final.output, { only: { worker: "live", attempt: 1 } });
      const [claims] = await db.sql<{ n: number }>`
        select count(*)::int as n from edgeflow.event_log
         where run_id = ${run.body.run_id}::uuid and kind = 'task' and to_status = 'RUNNING'`;
      assert.equal(claims.n, 1, "claimed once, by the live worker");
    } finally {
      await Promise.all(workers.map((w) => w.signal("SIGKILL")));
      await server.shutdown();
    }
  });
}
