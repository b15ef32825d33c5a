/**
 * Inbound webhooks over HTTP (issue 13):
 * - `webhooks.delivery`: a signed GitHub delivery (≈ 1 KB body, HMAC-SHA256,
 *   mapping of three parameters, schema validation) to the response naming
 *   its new run: verification + mapping + the one SQL call that records the
 *   delivery and starts the run, sequential, p50/p99; baseline: the same
 *   run started by `POST /trigger/:deployment` with an API key;
 * - `webhooks.redelivery`: the same delivery id again (answered from the
 *   delivery log, no run), p50/p99.
 * The app is `createApp` served by `Deno.serve` over postgres.js in this process.
 */
import { createHmac } from "node:crypto";
import { createApp } from "../../shared/app/app.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import type { BenchContext, Benchmark, BenchRow } from "./harness.ts";

const DELIVERY = "webhooks.delivery";
const REDELIVERY = "webhooks.redelivery";
const KEY = `bench-${crypto.randomUUID()}`;
const SECRET = "bench-webhook-secret";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function api(base: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return await res.json();
}

function pushBody(i: number): string {
  return JSON.stringify({
    ref: "refs/heads/main",
    after: `${i}`.padStart(40, "0"),
    repository: { full_name: "acme/app", id: 1, private: false },
    pusher: { name: "octocat", email: "octocat@example.com" },
    commits: Array.from({ length: 5 }, (_, c) => ({ id: `c${c}`, message: "x".repeat(100) })),
  });
}

async function deliver(base: string, id: string, body: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/trigger/hooks/bench-gh`, {
    method: "POST",
    headers: {
      "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
      "x-github-event": "push",
      "x-github-delivery": id,
      "content-type": "application/json",
    },
    body,
  });
  await res.text();
  if (res.status !== 202 && res.status !== 200) throw new Error(`delivery answered ${res.status}`);
  return performance.now() - t0;
}

export const webhooksBench: Benchmark = {
  name: "webhooks",
  method: `${DELIVERY}: sequential signed GitHub deliveries (≈ 1 KB, HMAC-SHA256 over the raw ` +
    "body, a filter, three mapped parameters, schema validation) each starting a run; from " +
    "sending to the 202 naming the run, p50/p99 (baseline: `POST /trigger/:deployment` with a " +
    `key, the same run). ${REDELIVERY}: the same delivery ids again, answered 200 from the log.`,
  figures: [DELIVERY, REDELIVERY],
  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    const sql = postgresSql(ctx.url, { max: 4 });
    const app = createApp({
      sql: () => sql,
      config: { adminKey: KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
      log: silentLogger,
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const rows: BenchRow[] = [];
    try {
      await api(base, "/register", {
        name: "bench-hook",
        parameters: {
          type: "object",
          properties: { repo: { type: "string" }, sha: { type: "string" }, n: { type: "integer" } },
          required: ["repo", "sha"],
        },
        steps: [{ slug: "build" }],
      });
      await api(base, "/deploy", { name: "bench-hook", flow: "bench-hook" });
      await api(base, "/deploy/webhooks", {
        name: "bench-gh",
        deployment: "bench-hook",
        provider: "github",
        secrets: ["old-secret", SECRET],
        filter: { events: ["push"], match: { "/ref": "refs/heads/main" } },
        parameters: {
          repo: "{{ body.repository.full_name }}",
          sha: "{{ body.after }}",
          n: "{{ body.repository.id }}",
        },
      });
      const n = ctx.quick ? 30 : 400;
      const bodies = Array.from({ length: n + 20 }, (_, i) => pushBody(i));
      for (let i = 0; i < 20; i++) await deliver(base, `warm-${i}`, bodies[n + i]);
      ctx.progress(`${n} signed deliveries`);
      const first: number[] = [], baseline: number[] = [], again: number[] = [];
      for (let i = 0; i < n; i++) {
        first.push(await deliver(base, `d-${i}`, bodies[i]));
        const t0 = performance.now();
        await api(base, "/trigger/bench-hook", { parameters: { repo: "acme/app", sha: `${i}` } });
        baseline.push(performance.now() - t0);
      }
      for (let i = 0; i < n; i++) again.push(await deliver(base, `d-${i}`, bodies[i]));
      const fmt = (xs: number[]) =>
        `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
      const b50 = percentile(baseline, 50);
      if (selected.has(DELIVERY)) {
        rows.push({
          bench: DELIVERY,
          figure: fmt(first),
          target: "—",
          baseline: `POST /trigger/:deployment ${fmt(baseline)}`,
          ratio: Number((percentile(first, 50) / b50).toFixed(2)),
          verdict: "info",
          json: {
            bench: DELIVERY,
            n,
            p50_ms: percentile(first, 50),
            p99_ms: percentile(first, 99),
            trigger_p50_ms: b50,
            trigger_p99_ms: percentile(baseline, 99),
          },
        });
      }
      if (selected.has(REDELIVERY)) {
        rows.push({
          bench: REDELIVERY,
          figure: fmt(again),
          target: "—",
          baseline: "—",
          ratio: null,
          verdict: "info",
          json: {
            bench: REDELIVERY,
            n,
            p50_ms: percentile(again, 50),
            p99_ms: percentile(again, 99),
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
