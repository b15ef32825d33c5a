// deno-lint-ignore-file no-explicit-any
/**
 * Issue 10 item 4 with real processes: the dev server (embedded PGlite on
 * disk) in a process of its own, an SDK worker talking to it over HTTP.
 * A deployment step that names its own deployment is refused at deploy
 * time; a handler that runs its own deployment is stopped by the nesting
 * depth limit; the PGlite instance answers correctly afterwards, and again
 * after the server process is SIGKILLed and started on the same data.
 */
import assert from "node:assert/strict";
import { ADMIN_KEY, until } from "./harness.ts";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";

const DEV = new URL("../../functions/dev.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `deno task dev` as a child process on `dir`; resolves once it serves. */
async function startDev(dir: string) {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", DEV],
    // Its own PGlite on `dir`: the suite's DATABASE_URL (inherited otherwise)
    // would put this server on the shared CI database, where the first pass's
    // runs are still listed when the compat pass runs this test again.
    env: {
      PORT: String(port),
      EDGEFLOW_DATA_DIR: dir,
      EDGEFLOW_ADMIN_KEY: ADMIN_KEY,
      DATABASE_URL: "",
      SUPABASE_DB_URL: "",
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null } as any;
  };
  await until("the dev server to answer", async () => {
    try {
      return (await call("GET", "/health")).status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 120_000, everyMs: 250 });
  return {
    url,
    call,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

Deno.test({
  name: "a self-calling subflow neither loops nor breaks the dev server's PGlite",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ef-subflow-loop-" });
    let dev = await startDev(dir);
    try {
      await dev.call("POST", "/deploy/pools", { name: "loops" });
      // A loop through a deployment step is visible at deploy time: refused.
      await dev.call("POST", "/register", {
        name: "loop",
        steps: [{ slug: "again", deployment: "loop-dep" }],
      });
      const refused = await dev.call("POST", "/deploy", { name: "loop-dep", flow: "loop" });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.errors[0].path, "steps[0].deployment");

      // A loop through handler code is not: the depth limit stops it.
      await dev.call("POST", "/register", { name: "selfish", steps: [{ slug: "recurse" }] });
      await dev.call("POST", "/deploy", { name: "selfish-dep", flow: "selfish", pool: "loops" });
      const worker = createWorker({
        url: dev.url,
        key: ADMIN_KEY,
        pool: "loops",
        pollSeconds: 1,
        capacity: 20,
        logger: silentLogger,
        handlers: {
          recurse: (ctx: TaskContext) => ctx.runDeployment("selfish-dep", {}, { pollMs: 50 }),
        },
      });
      await worker.start();
      try {
        const id = (await dev.call("POST", "/trigger/selfish-dep", {})).body.run_id;
        const top = await until("the top run to fail", async () => {
          const r = await dev.call("GET", `/trigger/runs/${id}`);
          return r.body.status === "FAILED" && r.body;
        }, { timeoutMs: 90_000 });
        assert.equal(top.error.code, "subflow_depth_exceeded");
        assert.equal(top.steps[0].attempts, 1);
      } finally {
        await worker.stop({ timeoutMs: 5_000 });
      }
      const listed = async () =>
        (await dev.call("GET", "/trigger/runs?deployment=selfish-dep&limit=100")).body.runs;
      const runs = await listed();
      assert.equal(runs.length, 17);
      assert.ok(runs.every((r: any) => r.status === "FAILED"));

      // The same data after a crash of the server process.
      await dev.kill();
      dev = await startDev(dir);
      assert.deepEqual((await dev.call("GET", "/health")).body, { status: "ok" });
      assert.equal((await listed()).length, 17);
      assert.equal((await dev.call("GET", "/deploy/deployments/loop-dep")).status, 404);
      // And it still runs flows: the example's deployment, served by the dev worker.
      const hello = (await dev.call("POST", "/trigger/hello-daily", {})).body.run_id;
      const done = await until("the example run to end", async () => {
        const r = await dev.call("GET", `/trigger/runs/${hello}`);
        return ["COMPLETED", "FAILED"].includes(r.body.status) && r.body;
      }, { timeoutMs: 60_000 });
      assert.equal(done.status, "COMPLETED", JSON.stringify(done.error));
    } finally {
      await dev.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
