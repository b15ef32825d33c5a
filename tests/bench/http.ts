// deno-lint-ignore-file no-explicit-any
/**
 * The functions over HTTP (spec/quality.md):
 * - `http.trigger_to_task`: an idle worker holds a long-polling heartbeat
 *   open; the time from sending `POST /trigger/:deployment` to the task being
 *   in the worker's hands (its heartbeat answered), p50 and p99; baseline: a
 *   `GET /health` round trip (one query) on the same server;
 * - `http.heartbeats`: N clients send `POST /heartbeat` (capacity 0, no
 *   leases) back to back for a few seconds; heartbeats/s; baseline: the same
 *   clients on `GET /health`.
 * The app is `createApp` served by `Deno.serve` in this process over
 * postgres.js, as `deno task dev` or Supabase run it.
 */
import { createApp } from "../../shared/app/app.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { type BenchContext, type Benchmark, type BenchRow, fmtInt, median } from "./harness.ts";

const LATENCY = "http.trigger_to_task";
const HEARTBEATS = "http.heartbeats";
const KEY = `bench-${crypto.randomUUID()}`;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function post(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return res.json();
}

async function latency(base: string, n: number): Promise<{ samples: number[]; health: number[] }> {
  await post(`${base}/register`, { name: "bench-http", steps: [{ slug: "one" }] });
  await post(`${base}/deploy`, { name: "bench-http", flow: "bench-http" });
  const samples: number[] = [], health: number[] = [];
  for (let i = 0; i < n; i++) {
    const hb = post(`${base}/heartbeat`, {
      worker: "bench-lp",
      pool: "default",
      handlers: ["one"],
      capacity: 1,
      wait_seconds: 5,
    });
    await new Promise((r) => setTimeout(r, 20)); // the heartbeat is waiting: the system is idle
    const t0 = performance.now();
    const trig = post(`${base}/trigger/bench-http`, {});
    const got = await hb;
    samples.push(performance.now() - t0);
    await trig;
    const [t] = got.tasks;
    if (t) await post(`${base}/heartbeat/tasks/${t.task}/complete`, { lease: t.lease, output: i });
    const h0 = performance.now();
    await (await fetch(`${base}/health`)).text();
    health.push(performance.now() - h0);
  }
  return { samples, health };
}

async function rate(
  seconds: number,
  clients: number,
  once: () => Promise<unknown>,
): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < until) {
      await once();
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

export const httpBench: Benchmark = {
  name: "http",
  method: `${LATENCY}: one worker's long-polling heartbeat (wait_seconds) is open on an idle ` +
    "system; the latency is from sending the trigger to the heartbeat's answer carrying the " +
    "task, sequentially, p50/p99 (baseline: `GET /health`, one query). " +
    `${HEARTBEATS}: 16 HTTP clients loop \`POST /heartbeat\` (capacity 0, distinct workers) ` +
    "for a few seconds, server and clients in one Deno process on the 2 cores; baseline: " +
    "the same clients on `GET /health`.",
  figures: [LATENCY, HEARTBEATS],
  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    const sql = postgresSql(ctx.url, { max: 8 });
    const app = createApp({
      sql: () => sql,
      config: { adminKey: KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
      log: silentLogger,
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const rows: BenchRow[] = [];
    try {
      if (selected.has(LATENCY)) {
        const n = ctx.quick ? 30 : 300;
        await latency(base, 10); // warm up
        ctx.progress(`${n} triggers against a waiting worker`);
        const { samples, health } = await latency(base, n);
        const p50 = percentile(samples, 50), p99 = percentile(samples, 99);
        const h50 = median(health);
        const pass = p50 <= 5 && p99 <= 20;
        rows.push({
          bench: LATENCY,
          figure: `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
          target: "p50 ≤ 5 ms, p99 ≤ 20 ms",
          baseline: `GET /health p50 ${h50.toFixed(1)} ms`,
          ratio: null,
          verdict: pass ? "pass" : "FAIL",
          json: { bench: LATENCY, n, p50_ms: p50, p99_ms: p99, health_p50_ms: h50 },
        });
      }
      if (selected.has(HEARTBEATS)) {
        const seconds = ctx.quick ? 1 : 4;
        const clients = 16;
        let w = 0;
        const beat = () =>
          post(`${base}/heartbeat`, {
            worker: `bench-w${w++ % clients}`,
            pool: "default",
            capacity: 0,
          });
        const health = () => fetch(`${base}/health`).then((r) => r.text());
        await rate(0.5, clients, beat);
        const perRound: { hb: number; h: number }[] = [];
        for (let r = 0; r < ctx.rounds; r++) {
          ctx.progress(`heartbeats round ${r + 1}/${ctx.rounds}`);
          perRound.push({
            h: await rate(seconds, clients, health),
            hb: await rate(seconds, clients, beat),
          });
        }
        const hb = median(perRound.map((p) => p.hb)), h = median(perRound.map((p) => p.h));
        rows.push({
          bench: HEARTBEATS,
          figure: `${fmtInt(hb)} heartbeats/s`,
          target: "≥ 5,000 / s",
          baseline: `${fmtInt(h)} GET /health/s`,
          ratio: hb / h,
          verdict: hb >= 5000 ? "pass" : "FAIL",
          json: {
            bench: HEARTBEATS,
            clients,
            heartbeats_per_s: hb,
            health_per_s: h,
            ratio: hb / h,
          },
        });
      }
    } finally {
      await server.shutdown();
      await sql.end();
    }
    return rows;
  },
};
