// deno-lint-ignore-file no-explicit-any
/**
 * Supabase Edge Functions, locally and for real (run by tests/smoke/supabase_smoke.sh):
 * each of functions/{register,deploy,trigger,heartbeat}/index.ts in its own
 * Deno process, behind tests/smoke/supabase_gateway.ts (`/functions/v1/<name>/…`
 * → that process, which sees `/<name>/…`), over Debian's pgbouncer in
 * `pool_mode = transaction` (what Supavisor's port 6543 is) unless
 * EDGEFLOW_SMOKE_DIRECT=1. Needs DATABASE_URL (a Postgres to make a database on).
 *
 * Shows: migrations refused through the pooler and applied over the direct
 * URL; the CLI registers, deploys and runs a map DAG that an SDK worker
 * completes; a trigger in the `trigger` process wakes a long poll held by
 * the `heartbeat` process; the dashboard signs in and shows the run under
 * /functions/v1/trigger/ui; CPU ms per request of heartbeat, complete,
 * trigger and tick, read from /proc for the function's process.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";
import { type Pgbouncer, pgbouncerAvailable, startPgbouncer } from "../support/pgbouncer.ts";
import { cpuMs, freePort, spawnLogged, waitFor } from "./supabase_support.ts";

const BASE_URL = Deno.env.get("DATABASE_URL");
const DIRECT = Deno.env.get("EDGEFLOW_SMOKE_DIRECT") === "1";
const FUNCTIONS = ["register", "deploy", "trigger", "heartbeat"] as const;
const KEY = `smoke-${crypto.randomUUID().replaceAll("-", "")}`;
const ROOT = new URL("../../", import.meta.url).pathname;
const why = !BASE_URL
  ? "DATABASE_URL is not set"
  : !DIRECT && !pgbouncerAvailable()
  ? "pgbouncer is missing (apt-get install pgbouncer)"
  : "";

const FLOW = {
  name: "smoke-map",
  steps: [
    { slug: "split" },
    { slug: "double", depends_on: ["split"], map: "split" },
    { slug: "sum", depends_on: ["double"] },
  ],
};
const handlers = {
  split: () => [1, 2, 3, 4],
  double: (ctx: TaskContext) => (ctx.input.item as number) * 2,
  sum: (ctx: TaskContext) => (ctx.input.deps.double as number[]).reduce((a, b) => a + b),
};

Deno.test({
  name:
    `supabase: four functions behind a gateway${
      DIRECT ? "" : ", through pgbouncer (transaction)"
    }` +
    (why ? ` (skipped: ${why})` : ""),
  ignore: !!why,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = `edgeflow_sbsmoke_${Deno.pid}`;
    const admin = postgres(BASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists "${db}" with (force)`);
    await admin.unsafe(`create database "${db}"`);
    const direct = Object.assign(new URL(BASE_URL!), { pathname: `/${db}` }).toString();
    const stops: (() => Promise<void>)[] = [];
    let bouncer: Pgbouncer | undefined;
    try {
      if (!DIRECT) {
        bouncer = await startPgbouncer();
        stops.push(() => bouncer!.stop());
      }
      // The functions' URL: the pooler, flagged as Prisma users do (the flag is not sent to it).
      const pooled = bouncer ? `${bouncer.urlFor(direct)}?pgbouncer=true` : direct;

      await t.step(
        "migrations: refused through the pooler, applied over EDGEFLOW_DIRECT_URL",
        async () => {
          const migrate = (env: Record<string, string>) =>
            new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", "functions/migrate.ts"],
              cwd: ROOT,
              env: { ...env, DATABASE_URL: pooled },
              stdout: "piped",
              stderr: "piped",
            }).output();
          if (bouncer) {
            const refused = await migrate({});
            assert.equal(refused.code, 2);
            assert.match(
              new TextDecoder().decode(refused.stderr),
              /transaction pooler.*EDGEFLOW_DIRECT_URL/s,
            );
          }
          const ok = await migrate({ EDGEFLOW_DIRECT_URL: direct });
          assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
        },
      );

      const gwPort = freePort();
      const gw = `http://127.0.0.1:${gwPort}`;
      const ports: Record<string, number> = {};
      const pids: Record<string, number> = {};
      for (const name of FUNCTIONS) {
        ports[name] = freePort();
        const child = spawnLogged(name, [
          Deno.execPath(),
          "run",
          "-A",
          `functions/${name}/index.ts`,
        ], {
          cwd: ROOT,
          env: {
            // What Supabase gives every function, plus our settings (supabase secrets set …).
            SUPABASE_URL: gw,
            DATABASE_URL: pooled,
            EDGEFLOW_ADMIN_KEY: KEY,
            EDGEFLOW_HEARTBEAT_SECONDS: "2",
            DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${ports[name]}`,
          },
        });
        pids[name] = child.pid;
        stops.push(child.stop);
      }
      const gateway = spawnLogged("gateway", [
        Deno.execPath(),
        "run",
        "-A",
        "tests/smoke/supabase_gateway.ts",
        String(gwPort),
        ...FUNCTIONS.map((n) => `${n}=${ports[n]}`),
      ], { cwd: ROOT, env: {} });
      stops.push(gateway.stop);
      const fn = `${gw}/functions/v1`;
      for (const name of FUNCTIONS) {
        await waitFor(`${name} to answer`, async () => {
          const res = await fetch(`${fn}/${name}/health`).catch(() => null);
          await res?.body?.cancel();
          return res?.status === 200 ? true : undefined;
        }, 60_000);
      }
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(fn + path, {
          method,
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      };

      let runId = "";
      await t.step(
        "the CLI registers, deploys and runs a map DAG; an SDK worker completes it",
        async () => {
          const dir = await Deno.makeTempDir();
          await Deno.writeTextFile(`${dir}/flow.json`, JSON.stringify(FLOW));
          await Deno.writeTextFile(
            `${dir}/deployment.json`,
            JSON.stringify({ name: "smoke-map", flow: "smoke-map" }),
          );
          const cli = (...args: string[]) =>
            new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", "--node-modules-dir=manual", "functions/cli.ts", ...args],
              cwd: ROOT,
              env: { EDGEFLOW_URL: fn, EDGEFLOW_KEY: KEY, NO_COLOR: "1" },
              stdout: "piped",
              stderr: "piped",
            }).output();
          for (const file of ["flow.json", "deployment.json"]) {
            const out = await cli(file === "flow.json" ? "register" : "deploy", `${dir}/${file}`);
            assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
          }
          const worker = createWorker({
            url: fn,
            key: KEY,
            capacity: 4,
            logger: silentLogger,
            handlers,
          });
          await worker.start();
          try {
            const out = await cli("run", "smoke-map", "--watch", "--timeout", "60", "--json");
            assert.equal(
              out.code,
              0,
              new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
            );
          } finally {
            await worker.stop({ timeoutMs: 5_000 });
          }
          const runs = await call("GET", "/trigger/runs?deployment=smoke-map");
          const run = runs.body.runs.find((r: any) => r.status === "COMPLETED");
          assert.ok(run, JSON.stringify(runs.body));
          runId = run.id;
          const detail = await call("GET", `/trigger/runs/${runId}`);
          assert.deepEqual(detail.body.output, { sum: 20 });
        },
      );

      await t.step(
        "a trigger in the trigger process wakes a long poll in the heartbeat process",
        async () => {
          assert.equal(
            (await call("POST", "/register", { name: "wake", steps: [{ slug: "wake_step" }] }))
              .status,
            201,
          );
          const polling = call("POST", "/heartbeat", {
            worker: "long-poller",
            pool: "default",
            handlers: ["wake_step"],
            capacity: 1,
            running: [],
            wait_seconds: 20,
          });
          // The heartbeat has registered the worker before it starts waiting.
          await waitFor("the long poll to be waiting", async () => {
            const w = await call("GET", "/heartbeat/workers");
            return w.body.workers.some((x: any) => x.name === "long-poller") ? true : undefined;
          });
          const before = performance.now();
          const trig = await call("POST", "/trigger/flows/wake", {});
          assert.equal(trig.status, 201, JSON.stringify(trig.body));
          const beat = await polling;
          const ms = Math.round(performance.now() - before);
          assert.equal(beat.status, 200);
          assert.equal(beat.body.tasks.length, 1, JSON.stringify(beat.body));
          assert.equal(beat.body.tasks[0].handler, "wake_step");
          console.log(`  figure: trigger → task in the other process's long poll: ${ms} ms`);
          await call("POST", `/heartbeat/tasks/${beat.body.tasks[0].task}/complete`, {
            lease: beat.body.tasks[0].lease,
            output: null,
          });
        },
      );

      await t.step(
        "the dashboard at /functions/v1/trigger/ui signs in and shows the run",
        async () => {
          const first = await fetch(`${fn}/trigger/ui/runs/${runId}`, { redirect: "manual" });
          await first.body?.cancel();
          assert.equal(first.status, 303);
          const login = first.headers.get("location")!;
          assert.ok(login.startsWith("/functions/v1/trigger/ui/login?next="), login);
          const form = new URLSearchParams({
            key: KEY,
            next: `/functions/v1/trigger/ui/runs/${runId}`,
          });
          const signed = await fetch(`${gw}/functions/v1/trigger/ui/login`, {
            method: "POST",
            redirect: "manual",
            headers: { origin: gw, "content-type": "application/x-www-form-urlencoded" },
            body: form,
          });
          await signed.body?.cancel();
          assert.equal(signed.status, 303);
          assert.equal(signed.headers.get("location"), `/functions/v1/trigger/ui/runs/${runId}`);
          const cookie = signed.headers.get("set-cookie")!.split(";")[0];
          const page = await fetch(`${gw}/functions/v1/trigger/ui/runs/${runId}`, {
            headers: { cookie },
          });
          const html = await page.text();
          assert.equal(page.status, 200);
          assert.match(html, /id="run-status"[^>]*>COMPLETED</);
          assert.match(html, /href="\/functions\/v1\/trigger\/ui\/runs"/);
          const { browserCheck } = await import("./supabase_browser.ts");
          await browserCheck(gw, KEY, runId);
        },
      );

      await t.step("CPU ms per request (the function's process, /proc)", async () => {
        const n = 100;
        const measure = async (name: string, pid: number, one: (i: number) => Promise<unknown>) => {
          for (let i = 0; i < 5; i++) await one(i); // warm: compiled paths, open connections
          const before = await cpuMs(pid);
          for (let i = 0; i < n; i++) await one(i);
          const per = (await cpuMs(pid) - before) / n;
          console.log(`  figure: ${name}: ${per.toFixed(2)} CPU ms per request (${n} sequential)`);
          return per;
        };
        await measure(
          "heartbeat (no work)",
          pids.heartbeat,
          () =>
            call("POST", "/heartbeat", {
              worker: "cpu",
              pool: "default",
              capacity: 1,
              running: [],
            }),
        );
        await measure("trigger", pids.trigger, () => call("POST", "/trigger/flows/wake", {}));
        const tasks: any[] = [];
        while (tasks.length < n + 5) {
          const beat = await call("POST", "/heartbeat", {
            worker: "cpu",
            pool: "default",
            handlers: ["wake_step"],
            capacity: 50,
            running: [],
          });
          assert.ok(beat.body.tasks.length > 0);
          tasks.push(...beat.body.tasks);
        }
        await measure("complete", pids.heartbeat, async (i) => {
          const task = tasks.shift();
          const r = await call("POST", `/heartbeat/tasks/${task.task}/complete`, {
            lease: task.lease,
            output: { i },
          });
          assert.equal(r.status, 200, JSON.stringify(r.body));
        });
        await measure("tick", pids.trigger, () => call("POST", "/trigger/tick", {}));
        // A waiting long poll: what it costs its process per second of waiting.
        const before = await cpuMs(pids.heartbeat);
        const t0 = performance.now();
        await call("POST", "/heartbeat", {
          worker: "idle",
          pool: "default",
          handlers: ["nothing"],
          capacity: 1,
          running: [],
          wait_seconds: 5,
        });
        const s = (performance.now() - t0) / 1000;
        console.log(
          `  figure: a long poll waiting ${s.toFixed(1)} s: ${
            ((await cpuMs(pids.heartbeat) - before) / s).toFixed(1)
          } CPU ms per second`,
        );
      });
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await admin.unsafe(`drop database if exists "${db}" with (force)`).catch(() => {});
      await admin.end();
    }
  },
});
