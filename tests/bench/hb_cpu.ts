// deno-lint-ignore-file no-explicit-any
/**
 * Where a heartbeat's CPU goes: the http.heartbeats load (16 clients, capacity
 * 0, distinct workers) and the same clients on GET /health, with the CPU of
 * this process (server and clients) and of the bench database's backends
 * (`/proc/<pid>/stat`) per request, rounds interleaved.
 *
 *   deno run -A tests/bench/hb_cpu.ts [--seconds 3] [--rounds 3] [--profile]
 *
 * `--variant file.sql` (repeatable) applies each file in turn before a
 * round (interleaved), so a before and an after share the run; include
 * a file with the current definition to measure against it.
 *
 * `--profile` samples this process's main thread (node:inspector) during one
 * more heartbeat round and prints the functions with the most self time.
 */
import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { createApp } from "../../shared/app/app.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { createBenchDatabase } from "./bench_db.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    profile: { type: "boolean", default: false },
    variant: { type: "string", multiple: true, default: [] },
  },
});
const SECONDS = Number(values.seconds), ROUNDS = Number(values.rounds);
const KEY = `bench-${crypto.randomUUID()}`;
const TICK = 100; // USER_HZ on Linux

function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
  } catch {
    return 0;
  }
}

const server = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const db = await createBenchDatabase(server);
const sql = postgresSql(db.url, { max: 8 });
const probe = postgresSql(db.url, { max: 1 });
const app = createApp({
  sql: () => sql,
  config: { adminKey: KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
  log: silentLogger,
});
const srv = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
const base = `http://127.0.0.1:${srv.addr.port}`;
const clients = 16;
let w = 0;
const beat = () =>
  fetch(`${base}/heartbeat`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ worker: `bench-w${w++ % clients}`, pool: "default", capacity: 0 }),
  }).then((r) => r.json());
const health = () => fetch(`${base}/health`).then((r) => r.text());

async function backends(): Promise<number[]> {
  const rows = await probe<{ pid: number }>`
    select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
  return rows.map((r) => r.pid);
}

async function round(label: string, once: () => Promise<unknown>) {
  await once();
  const pids = await backends();
  const pg0 = pids.reduce((s, p) => s + cpuMs(p), 0), me0 = cpuMs("self");
  let done = 0;
  const t0 = performance.now(), until = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < until) {
      await once();
      done++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const pg = pids.reduce((s, p) => s + cpuMs(p), 0) - pg0, me = cpuMs("self") - me0;
  console.log(JSON.stringify({
    label,
    per_s: Math.round(done / secs),
    deno_us: Math.round((me * 1000) / done),
    pg_us: Math.round((pg * 1000) / done),
  }));
}

try {
  for (let i = 0; i < 200; i++) await beat();
  const variants = values.variant as string[];
  for (let r = 0; r < ROUNDS; r++) {
    await round("health", health);
    if (!variants.length) await round("heartbeat", beat);
    for (const v of variants) {
      await probe.exec(Deno.readTextFileSync(v));
      await round(`heartbeat ${v.split("/").pop()}`, beat);
    }
  }
  if (values.profile) {
    const session = new Session();
    session.connect();
    const post = (m: string, p?: object) =>
      new Promise<any>((ok, no) => session.post(m, p ?? {}, (e, r) => e ? no(e) : ok(r)));
    await post("Profiler.enable");
    await post("Profiler.start");
    await round("heartbeat (profiled)", beat);
    const { profile } = await post("Profiler.stop");
    const self = new Map<string, number>();
    const byId = new Map<number, any>(profile.nodes.map((n: any) => [n.id, n]));
    const counts = new Map<number, number>();
    for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
    let total = 0;
    for (const [id, n] of counts) {
      const f = byId.get(id).callFrame;
      const key = `${f.functionName || "(anon)"} ${
        f.url.split("/").slice(-2).join("/")
      }:${f.lineNumber}`;
      self.set(key, (self.get(key) ?? 0) + n);
      total += n;
    }
    const idle = [...self].filter(([k]) => k.startsWith("(idle)")).reduce((s, [, n]) => s + n, 0);
    console.log(`samples ${total}, idle ${idle}`);
    for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
      console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${k}`);
    }
  }
} finally {
  await srv.shutdown();
  await sql.end();
  await probe.end();
  await db.drop();
}
