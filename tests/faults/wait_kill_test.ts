/**
 * Handlers waiting inside their code (`ctx.waitForEvent`, issue 16) survive
 * everything around them dying: with every task suspended, the SDK worker
 * process and the server process are SIGKILLed and Postgres is crash-stopped
 * (WAL replay on start). A new server and a new worker then take the events:
 * every wait resumes once, its handler re-runs with the event and completes
 * on the same attempt; runs waiting in a declarative `wait` step beside them
 * resume on the same events. Real processes, real sockets, a private Postgres.
 *
 * Runs when EDGEFLOW_FAULT_RESTART is set or under CI (like wait_restart_test.ts).
 */
import assert from "node:assert/strict";
import { postgresSql } from "../../shared/db/postgres.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { ADMIN_KEY, until } from "./harness.ts";
import { startPrivatePostgres } from "./private_postgres.ts";

const enabled = Boolean(Deno.env.get("EDGEFLOW_FAULT_RESTART") || Deno.env.get("CI"));
const RUNS = 10;
const SERVER = new URL("./server_process.ts", import.meta.url).pathname;
const SDK_WORKER = new URL("./sdk_worker_process.ts", import.meta.url).pathname;

/** A Deno script in a process of its own whose JSON stdout lines are collected. */
function spawn(script: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let nl; (nl = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(nl + 1)) {
        const line = buffer.slice(0, nl);
        if (line.startsWith("{")) lines.push(JSON.parse(line));
      }
    }
  })();
  let gone = false;
  return {
    lines,
    /** SIGKILL: no cleanup, no goodbye. */
    async kill() {
      if (!gone) {
        gone = true;
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await child.status;
      await reading.catch(() => {});
    },
  };
}

async function startServer(databaseUrl: string) {
  const p = spawn(SERVER, ["--database-url", databaseUrl]);
  const url = await until("the server listening", () => {
    const l = p.lines.find((x) => x.event === "listening");
    return l ? String(l.url) : undefined;
  }, { timeoutMs: 60_000 });
  const call = async (method: string, path: string, body?: unknown) => {
    try {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    } catch (err) {
      return { status: 0, body: String(err) };
    }
  };
  return { ...p, url, call };
}

Deno.test({
  name:
    "handlers suspended in waitForEvent survive SIGKILLed worker and server and a Postgres crash",
  ignore: !enabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pg = await startPrivatePostgres();
    const sql = postgresSql(pg.url, { max: 4, connectTimeoutMs: 3_000 });
    const procs: { kill(): Promise<void> }[] = [];
    try {
      await migrate(sql, await loadMigrations());
      const a = await startServer(pg.url);
      procs.push(a);
      const reg = await a.call("POST", "/register", {
        name: "approval",
        steps: [{ slug: "ask", handler: "approve", timeout: 5 }, {
          slug: "record",
          handler: "echo",
          depends_on: ["ask"],
        }],
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      // Beside them, runs whose wait is a declarative step (no task at all while waiting).
      const reg2 = await a.call("POST", "/register", {
        name: "checkout",
        steps: [
          { slug: "reserve", handler: "echo" },
          {
            slug: "paid",
            depends_on: ["reserve"],
            wait: { event: "doc.approved", key: "{{ run.doc }}", timeout: 86_400 },
          },
          { slug: "ship", handler: "echo", depends_on: ["paid"] },
        ],
      });
      assert.equal(reg2.status, 201, JSON.stringify(reg2.body));
      const w1 = spawn(SDK_WORKER, ["--url", a.url, "--key", ADMIN_KEY, "--worker", "w1"]);
      procs.push(w1);
      const ids: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await a.call("POST", "/trigger/flows/approval", { parameters: { doc: `d${i}` } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.run_id);
      }
      for (let i = 0; i < RUNS; i++) {
        const r = await a.call("POST", "/trigger/flows/checkout", { parameters: { doc: `d${i}` } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.run_id);
      }
      const suspendedTasks = async () => {
        const [{ n }] = await sql<{ n: number }>`
          select count(*)::int as n from edgeflow.tasks t
            join edgeflow.waits w on w.task_id = t.id
           where t.run_id = any(${ids}::uuid[]) and t.status = 'WAITING' and t.lease is null`;
        return n;
      };
      const stepWaits = async () => {
        const [{ n }] = await sql<{ n: number }>`
          select count(*)::int as n from edgeflow.waits
           where run_id = any(${ids}::uuid[]) and task_id is null`;
        return n;
      };
      await until("every run waiting", async () => {
        return await suspendedTasks() === RUNS && await stepWaits() === RUNS;
      }, {
        timeoutMs: 60_000,
        everyMs: 100,
      });

      // Everything dies at once: the worker, the server, Postgres (crash stop).
      await w1.kill();
      await a.kill();
      await sql.end();
      await pg.restart();
      await pg.ready();
      const sql2 = postgresSql(pg.url, { max: 4, connectTimeoutMs: 3_000 });
      try {
        const [{ n }] = await sql2<{ n: number }>`
          select count(*)::int as n from edgeflow.tasks t join edgeflow.waits w on w.task_id = t.id
           where t.run_id = any(${ids}::uuid[]) and t.status = 'WAITING'`;
        assert.equal(n, RUNS, "every suspended task and its wait survived");
        const [{ m }] = await sql2<{ m: number }>`
          select count(*)::int as m from edgeflow.waits
           where run_id = any(${ids}::uuid[]) and task_id is null`;
        assert.equal(m, RUNS, "every waiting step survived");
      } finally {
        await sql2.end();
      }

      const b = await startServer(pg.url);
      procs.push(b);
      assert.equal((await b.call("GET", `/trigger/runs/${ids[0]}`)).body.status, "WAITING");
      const w2 = spawn(SDK_WORKER, ["--url", b.url, "--key", ADMIN_KEY, "--worker", "w2"]);
      procs.push(w2);
      let resumed = 0;
      for (let i = 0; i < RUNS; i++) {
        const r = await b.call("POST", "/trigger/events", {
          name: "doc.approved",
          key: `d${i}`,
          payload: { i },
          id: `approve-${i}`,
        });
        assert.ok(r.status === 202 || r.status === 200, JSON.stringify(r.body));
        resumed += r.body.runs_resumed;
      }
      assert.equal(resumed, 2 * RUNS, "each event resumed its handler and its step, once");
      const docs = await until("every run complete", async () => {
        const all = await Promise.all(ids.map((id) => b.call("GET", `/trigger/runs/${id}`)));
        return all.every((d) => d.body.status === "COMPLETED") ? all.map((d) => d.body) : undefined;
      }, { timeoutMs: 60_000, everyMs: 250 });
      const asked = docs.filter((d) => d.flow === "approval").map((d) => d.steps[0].output)
        .sort((x, y) => x.event.i - y.event.i);
      const paid = docs.filter((d) => d.flow === "checkout").map((d) => d.steps[1].output.i);
      assert.deepEqual(paid.sort((x, y) => x - y), [...Array(RUNS).keys()]);
      assert.deepEqual(asked.map((o) => o.event.i), [...Array(RUNS).keys()]);
      assert.ok(asked.every((o) => o.worker === "w2" && o.attempt === 1), JSON.stringify(asked));
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
      await sql.end().catch(() => {});
      await pg.close();
    }
  },
});
