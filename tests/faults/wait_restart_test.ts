/**
 * Waits survive a Postgres crash (issue 16): runs WAITING for an event when
 * Postgres is restarted (a crash stop: WAL replay on start) still wait
 * afterwards, and the events sent after it resume every one of them, once.
 *
 * Runs when EDGEFLOW_FAULT_RESTART is set or under CI, on a private server
 * like pg_restart_test.ts (EDGEFLOW_FAULT_RESTART=shared: the machine's own).
 */
import assert from "node:assert/strict";
import { postgresSql } from "../../shared/db/postgres.ts";
import { serveApp, spawnWorker, ticker, until, type WorkerProcess } from "./harness.ts";
import { restartTarget, restartTestsEnabled } from "./restart_target.ts";

const RUNS = 20;

Deno.test({
  name: "Postgres restarted while runs wait for events: the waits survive and resume once",
  ignore: !restartTestsEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pg = await restartTarget();
    const sql = postgresSql(pg.url, { max: 8, connectTimeoutMs: 3_000 });
    const app = serveApp(sql);
    const { call } = app;
    const workers: WorkerProcess[] = [];
    let stopTicking = async () => {};
    try {
      const reg = await call("POST", "/register", {
        name: "checkout",
        steps: [
          { slug: "reserve", timeout: 3, max_attempts: 20 },
          {
            slug: "paid",
            depends_on: ["reserve"],
            wait: { event: "order.paid", key: "{{ run.order }}", timeout: 86_400 },
          },
          { slug: "ship", depends_on: ["paid"], timeout: 3, max_attempts: 20 },
        ],
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const ids: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await call("POST", "/trigger/flows/checkout", { parameters: { order: `o${i}` } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.run_id);
      }
      workers.push(spawnWorker(app.url, "w0", ["--capacity", "8", "--beat-ms", "100"]));
      stopTicking = ticker(call, 300);
      const waiting = async () => {
        const [{ n }] = await sql<{ n: number }>`
          select count(*)::int as n from edgeflow.waits where run_id = any(${ids}::uuid[])`;
        return n;
      };
      await until("every run waiting", async () => await waiting() === RUNS, { timeoutMs: 30_000 });

      await pg.restart();
      await pg.ready();
      await until(
        "the app answering again",
        async () => (await call("GET", "/health")).status === 200,
        {
          timeoutMs: 30_000,
        },
      );
      assert.equal(await waiting(), RUNS, "every wait survived the crash");
      const shown = await call("GET", `/trigger/runs/${ids[0]}`);
      assert.equal(shown.body.status, "WAITING");

      let resumed = 0;
      for (let i = 0; i < RUNS; i++) {
        const body = { name: "order.paid", key: `o${i}`, payload: { i }, id: `pay-${i}` };
        for (let attempt = 0;; attempt++) {
          const r = await call("POST", "/trigger/events", body);
          if (r.status === 202 || r.status === 200) {
            resumed += r.body.runs_resumed;
            break;
          }
          assert.ok(attempt < 50, `event ${i}: ${r.status} ${JSON.stringify(r.body)}`);
        }
      }
      assert.equal(resumed, RUNS, "each event resumed its run's wait, once");
      await until("every run complete", async () => {
        const [{ open }] = await sql<{ open: number }>`
          select count(*)::int as open from edgeflow.runs
           where id = any(${ids}::uuid[]) and status <> 'COMPLETED'`;
        return open === 0;
      }, { timeoutMs: 60_000, everyMs: 250 });
      const outputs = await sql<{ output: { i: number } }>`
        select ss.output from edgeflow.step_states ss
         where ss.run_id = any(${ids}::uuid[]) and ss.slug = 'paid'`;
      assert.deepEqual(outputs.map((o) => o.output.i).sort((a, b) => a - b), [
        ...Array(RUNS).keys(),
      ]);
    } finally {
      await stopTicking();
      await Promise.all(workers.map((w) => w.kill()));
      await app.close();
      await sql.end();
      await pg.dispose();
    }
  },
});
