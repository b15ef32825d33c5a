/**
 * Events and waits (issue 16):
 * - `waits.resume.p50` / `.p99`: an event resuming a waiting step, through
 *   HTTP (`POST /trigger/events` via `app.request`, auth included), until its
 *   202: the wait's row deleted, the step COMPLETED with the payload and the
 *   next step's task in pgmq, all before the answer. One waiting run per
 *   event, 100,000 other waits on the same event name standing by.
 * - `waits.handler_resume.p50` / `.p99`: the same for handlers suspended in
 *   `ctx.waitForEvent` (edgeflow.suspend_task): until the 202, the wait's row
 *   deleted and the task queued again with the event in its memo.
 * - `waits.tick.empty`: the tick's events pass (`eventsTick`: wait timeouts,
 *   event retention, stale events, debounced triggers) with no wait at all;
 *   the baseline.
 * - `waits.tick.100k`: the same pass with 100,000 waiting runs, none due:
 *   what holding them costs the tick (an index probe on waits_timeout).
 * - `waits.tick.100k_1pct`: with 1,000 of them due, failing their runs.
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { eventsTick } from "../../shared/engine/events.ts";
import { claimTasks, suspendTask } from "../../shared/engine/tasks.ts";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { flowDef } from "../support/flows.ts";
import { type BenchContext, type Benchmark, type BenchRow, median } from "./harness.ts";

const WAITING = 100_000;
const DUE = 1_000;
const EVENTS = 300;
const KEY = "bench-admin-key-0123456789";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function seedWaiting(sql: Sql, versionId: string, n: number, prefix: string) {
  for (let done = 0; done < n; done += 1_000) {
    await sql`
      select count(edgeflow.start_run(${versionId}::uuid,
                                      jsonb_build_object('order', ${prefix} || i), '{}'))
        from generate_series(${done}::int, ${Math.min(done + 1_000, n) - 1}::int) as i`;
  }
  await sql.exec("vacuum analyze edgeflow.waits, edgeflow.runs, edgeflow.step_states");
}

async function timedPass(sql: Sql): Promise<number> {
  const t0 = performance.now();
  await eventsTick(sql);
  return performance.now() - t0;
}

const row = (bench: string, ms: number, target: string, base?: number): BenchRow => ({
  bench,
  figure: `${ms.toFixed(2)} ms`,
  target,
  baseline: base === undefined ? "—" : `${base.toFixed(2)} ms`,
  ratio: base === undefined || base === 0 ? null : ms / base,
  verdict: base === undefined && target === "—" ? "baseline" : "info",
  json: { bench, ms, ...(base === undefined ? {} : { baseline_ms: base }) },
});

export const waitsBench: Benchmark = {
  name: "waits",
  method: `Waits (issue 16). waits.resume: ${EVENTS} events, each resuming one run's waiting ` +
    "step through `POST /trigger/events` (HTTP via app.request, one client), its 202 " +
    "coming after the step completed and the next step's task was enqueued; " +
    `${WAITING.toLocaleString("en-US")} other runs wait on the same event name meanwhile. ` +
    "waits.tick: the tick's events pass (`eventsTick`) with no waits, with " +
    `${WAITING.toLocaleString("en-US")} waiting runs none due, and with ${DUE} of them due; ` +
    "median of the rounds.",
  figures: [
    "waits.resume.p50",
    "waits.resume.p99",
    "waits.handler_resume.p50",
    "waits.handler_resume.p99",
    "waits.tick.empty",
    "waits.tick.100k",
    "waits.tick.100k_1pct",
  ],

  async run(ctx: BenchContext): Promise<BenchRow[]> {
    // No statement timeout: seeding 100,000 runs (and its vacuum) can outlast 15 s on a loaded machine.
    const sql = postgresSql(ctx.url, { max: Math.max(ctx.clients, 2), statementTimeoutMs: 0 });
    const waiting = ctx.quick ? 2_000 : WAITING;
    const due = ctx.quick ? 20 : DUE;
    try {
      const flow = await registerFlow(
        sql,
        flowDef("bench_wait", [
          {
            slug: "paid",
            handler: "paid",
            wait: {
              event: "order.paid",
              key: "{{ run.order }}",
              match: {},
              timeout: 86_400,
              lookback: 0,
              on_timeout: "fail",
            },
          },
          { slug: "ship", depends_on: ["paid"] },
        ]),
      );
      const empty: number[] = [];
      for (let r = 0; r < ctx.rounds + 1; r++) empty.push(await timedPass(sql));
      ctx.progress(`seeding ${waiting} waiting runs`);
      await seedWaiting(sql, flow.id, waiting, "bg-");
      const idle: number[] = [];
      for (let r = 0; r < ctx.rounds + 1; r++) idle.push(await timedPass(sql));

      const app = createApp({
        sql: () => sql,
        config: { adminKey: KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
        log: silentLogger,
      });
      const events = ctx.quick ? 50 : EVENTS;
      await seedWaiting(sql, flow.id, events, "ev-");
      const latencies: number[] = [];
      for (let i = 0; i < events; i++) {
        const t0 = performance.now();
        const res = await app.request("/trigger/events", {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "order.paid", key: `ev-${i}`, payload: { i } }),
        });
        const body = await res.json();
        latencies.push(performance.now() - t0);
        if (res.status !== 202 || body.runs_resumed !== 1) {
          throw new Error(`event ${i}: ${res.status} ${JSON.stringify(body)}`);
        }
      }

      // Handlers suspended in ctx.waitForEvent, one per event.
      const handlerFlow = await registerFlow(
        sql,
        flowDef("bench_handler_wait", [{ slug: "ask", handler: "ask", timeout: 60 }]),
      );
      await sql`
        select count(edgeflow.start_run(${handlerFlow.id}::uuid, jsonb_build_object('i', i), '{}'))
          from generate_series(0, ${events - 1}::int) as i`;
      let suspended = 0;
      while (suspended < events) {
        const claimed = await claimTasks(sql, "default", ["ask"], 50);
        if (claimed.length === 0) throw new Error(`only ${suspended} handler tasks claimed`);
        for (const t of claimed) {
          const r = await suspendTask(sql, t.task, t.lease, {
            seq: 0,
            event: "doc.approved",
            key: `h-${(t.input.run as { i: number }).i}`,
            timeout: 86_400,
          });
          if (!("ok" in r)) throw new Error(`suspend: ${JSON.stringify(r)}`);
          suspended++;
        }
      }
      const handlerLatencies: number[] = [];
      for (let i = 0; i < events; i++) {
        const t0 = performance.now();
        const res = await app.request("/trigger/events", {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "doc.approved", key: `h-${i}`, payload: { i } }),
        });
        const body = await res.json();
        handlerLatencies.push(performance.now() - t0);
        if (res.status !== 202 || body.runs_resumed !== 1) {
          throw new Error(`handler event ${i}: ${res.status} ${JSON.stringify(body)}`);
        }
      }

      const dueTimes: number[] = [];
      for (let r = 0; r < ctx.rounds; r++) {
        await sql`
          update edgeflow.waits set timeout_at = edgeflow.now() - interval '1 second'
           where (run_id, slug) in (select run_id, slug from edgeflow.waits
                                     where timeout_at > edgeflow.now() limit ${due}::int)`;
        dueTimes.push(await timedPass(sql));
      }
      const base = median(empty.slice(1));
      return [
        row("waits.resume.p50", percentile(latencies, 0.5), "—"),
        row("waits.resume.p99", percentile(latencies, 0.99), "—"),
        row("waits.handler_resume.p50", percentile(handlerLatencies, 0.5), "—"),
        row("waits.handler_resume.p99", percentile(handlerLatencies, 0.99), "—"),
        row("waits.tick.empty", base, "—"),
        row("waits.tick.100k", median(idle.slice(1)), "≈ empty", base),
        row("waits.tick.100k_1pct", median(dueTimes), "info", base),
      ];
    } finally {
      await sql.end();
    }
  },
};
