/**
 * Postgres restarted (a crash stop: no checkpoint, WAL replay on start) while
 * triggers arrive and workers run: every trigger answered 2xx has its run
 * completed, and the app, served over HTTP with the one client it was built
 * with, reconnects by itself.
 *
 * Runs when EDGEFLOW_FAULT_RESTART is set or under CI. It restarts a private
 * server (private_postgres.ts), so other test files running in parallel on
 * the machine's server are not cut off; EDGEFLOW_FAULT_RESTART=shared
 * restarts the machine's own cluster with pg_ctlcluster instead.
 */
import assert from "node:assert/strict";
import { postgresSql } from "../../shared/db/postgres.ts";
import { serveApp, sleep, spawnWorker, ticker, until, type WorkerProcess } from "./harness.ts";
import { restartTarget, restartTestsEnabled } from "./restart_target.ts";

Deno.test({
  name: "Postgres restarted under load: every 2xx trigger's run completes; the app reconnects",
  ignore: !restartTestsEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pg = await restartTarget();
    // Built once, like a function's client; never rebuilt below.
    const sql = postgresSql(pg.url, { max: 8, connectTimeoutMs: 3_000 });
    const app = serveApp(sql);
    const { call } = app;
    const workers: WorkerProcess[] = [];
    let stopTicking = async () => {};
    try {
      assert.equal(
        (await call("POST", "/register", {
          name: "steady",
          steps: [{ slug: "a", timeout: 3, max_attempts: 20 }, {
            slug: "b",
            depends_on: ["a"],
            timeout: 3,
          }],
        })).status,
        201,
      );
      assert.equal((await call("POST", "/deploy", { name: "steady", flow: "steady" })).status, 201);
      for (let i = 0; i < 2; i++) {
        workers.push(
          spawnWorker(app.url, `w${i}`, ["--capacity", "8", "--work-ms", "10", "--beat-ms", "100"]),
        );
      }
      stopTicking = ticker(call, 300);

      const accepted: { run: string; at: "before" | "during" | "after" }[] = [];
      const refused: number[] = [];
      let phase: "before" | "during" | "after" = "before";
      let triggering = true;
      const triggerLoop = async (n: number) => {
        for (let i = 0; triggering; i++) {
          const r = await call("POST", "/trigger/steady", {}, { "Idempotency-Key": `t${n}-${i}` });
          if (r.status === 200 || r.status === 201) {
            accepted.push({ run: r.body.run_id, at: phase });
          } else {
            refused.push(r.status);
            if (r.status === 0) console.log(`trigger failed without an answer: ${r.body}`);
          }
          // A steady trickle: enough to be mid-flight when Postgres dies.
          await sleep(40);
        }
      };
      const loops = Array.from({ length: 3 }, (_, n) => triggerLoop(n));

      await sleep(1500);
      phase = "during";
      const t0 = performance.now();
      await pg.restart();
      await pg.ready();
      const t1 = performance.now();
      phase = "after";
      await until(
        "a trigger accepted after the restart",
        () => accepted.some((a) => a.at === "after"),
        { timeoutMs: 30_000 },
      );
      const t2 = performance.now();
      await sleep(1000);
      triggering = false;
      await Promise.all(loops);
      console.log(
        `restart ${(t1 - t0).toFixed(0)} ms, first trigger after it ${(t2 - t1).toFixed(0)} ms`,
      );

      const ids = [...new Set(accepted.map((a) => a.run))];
      assert.equal(ids.length, accepted.length, "no run was handed out twice");
      console.log(
        `${accepted.length} triggers accepted (${
          accepted.filter((a) => a.at === "before").length
        } before the restart), ${refused.length} refused while Postgres was down: ${[
          ...new Set(refused),
        ]}`,
      );
      await until("every accepted trigger's run to complete", async () => {
        const [{ open }] = await sql<{ open: number }>`
          select count(*)::int as open from edgeflow.runs
           where id = any(${ids}::uuid[]) and status <> 'COMPLETED'`;
        return open === 0;
      }, { timeoutMs: 60_000, everyMs: 250 });
      const [{ found }] = await sql<{ found: number }>`
        select count(*)::int as found from edgeflow.runs where id = any(${ids}::uuid[])`;
      assert.equal(found, ids.length, "every 2xx trigger's run survived the crash");
      assert.equal((await call("GET", "/health")).status, 200);
    } finally {
      await stopTicking();
      await Promise.all(workers.map((w) => w.kill()));
      await app.close();
      await sql.end();
      await pg.dispose();
    }
  },
});
