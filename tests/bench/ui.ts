/**
 * Dashboard and events benchmarks:
 * - `ui.runs_page.10` / `ui.runs_page.100k`: server time of `GET /ui/runs`
 *   (first page of 10 runs, rendered HTML) with 10 and with 100,000 runs in the
 *   database; target: the big one within 1.5 × the small one, i.e. the page
 *   reads an index range (`runs_newest`), never the table;
 * - `ui.events.trigger_overhead`: claim → complete throughput of a 3-step
 *   chain with the event triggers of 0030 enabled, beside the same load with
 *   them disabled, and with NOTIFY turned on (`edgeflow.notify_events`).
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { type BenchContext, type Benchmark, type BenchRow, fmtInt, median } from "./harness.ts";
import { analyzeState, CHAIN, driveChains, resetState, startRuns } from "./engine_load.ts";
import { createBenchDatabase } from "./bench_db.ts";

const SMALL = "ui.runs_page.10";
const BIG = "ui.runs_page.100k";
const OVERHEAD = "ui.events.trigger_overhead";
const KEY = "bench-admin-key-0123456789";
const EVENT_TRIGGERS = [
  "runs:events_run_insert",
  "runs:events_run_update",
  "runs:events_run_update_batch",
  "step_states:events_step_update",
  "tasks:events_task_update",
];

/** Add `n` finished runs of the chain flow, one second apart, newest now (setup, not measured). */
async function seedRuns(sql: Sql, versionId: string, n: number, offset: number): Promise<void> {
  await sql`
    insert into edgeflow.runs (flow_version_id, flow_name, version, pool, queue, status,
                               remaining_steps, created_at, started_at, ended_at)
    select ${versionId}::uuid, 'bench_chain', 1, 'default', 'default',
           (array['COMPLETED','COMPLETED','COMPLETED','FAILED','RUNNING'])[1 + i % 5], 0,
           now() - make_interval(secs => i + ${offset}::int),
           now() - make_interval(secs => i + ${offset}::int),
           now() - make_interval(secs => i + ${offset}::int) + interval '2 seconds'
      from generate_series(1, ${n}::int) as i`;
  await sql.exec("analyze edgeflow.runs");
}

/** Median server time (ms) of `requests` renders of the runs page. */
async function timePage(app: ReturnType<typeof createApp>, requests: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await app.request("/ui/runs?limit=10", {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const html = await res.text();
    if (res.status !== 200 || !html.includes("data-run=")) {
      throw new Error(`runs page: ${res.status}`);
    }
    times.push(performance.now() - started);
  }
  return times;
}

async function setTriggers(admin: Sql, enabled: boolean): Promise<void> {
  for (const t of EVENT_TRIGGERS) {
    const [table, name] = t.split(":");
    // Names are our own constants, not input.
    await admin.exec(
      `alter table edgeflow.${table} ${enabled ? "enable" : "disable"} trigger ${name}`,
    );
  }
}

/** The app over `sql`, as the bench's admin. */
function appOver(sql: Sql) {
  return createApp({
    sql: () => sql,
    config: { adminKey: KEY, heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
  });
}

/**
 * Two databases side by side (10 runs; 100,000 runs), measured in
 * interleaved rounds so that drift on a shared machine hits both alike.
 */
async function runsPage(ctx: BenchContext, admin: Sql, versionId: string): Promise<BenchRow[]> {
  const smallDb = await createBenchDatabase(ctx.url);
  const small = postgresSql(smallDb.url, { max: 1 });
  try {
    const smallFlow = await registerFlow(small, CHAIN);
    await seedRuns(small, smallFlow.id, 10, 0);
    await resetState(admin);
    await seedRuns(admin, versionId, 100_000, 0);
    const apps = { small: appOver(small), big: appOver(admin) };
    const requests = ctx.quick ? 20 : 100;
    const times = { small: [] as number[], big: [] as number[] };
    for (let round = 0; round <= ctx.rounds; round++) {
      for (const which of ["small", "big"] as const) {
        const t = await timePage(apps[which], round === 0 ? 10 : requests);
        if (round > 0) times[which].push(...t); // round 0 warms plans and caches up
      }
      ctx.progress(
        `round ${round}: 10 runs ${
          median(times.small.length ? times.small : [0]).toFixed(2)
        } ms, ` +
          `100,000 runs ${median(times.big.length ? times.big : [0]).toFixed(2)} ms`,
      );
    }
    const [s, b] = [median(times.small), median(times.big)];
    const ratio = b / s;
    const ms = (x: number) => Number(x.toFixed(3));
    return [
      {
        bench: SMALL,
        figure: `${s.toFixed(2)} ms`,
        target: "— (baseline)",
        baseline: "—",
        ratio: null,
        verdict: "baseline",
        json: { bench: SMALL, runs: 10, requests: times.small.length, median_ms: ms(s) },
      },
      {
        bench: BIG,
        figure: `${b.toFixed(2)} ms`,
        target: `≤ 1.5 × ${SMALL}`,
        baseline: `${s.toFixed(2)} ms`,
        ratio,
        verdict: ratio <= 1.5 ? "pass" : "FAIL",
        json: {
          bench: BIG,
          runs: 100_000,
          requests: times.big.length,
          median_ms: ms(b),
          ratio: ms(ratio),
        },
      },
    ];
  } finally {
    await small.end();
    await smallDb.drop();
  }
}

async function overhead(ctx: BenchContext, admin: Sql, versionId: string): Promise<BenchRow> {
  const runs = ctx.quick ? 200 : 1500;
  const clients = Array.from({ length: ctx.clients }, () => postgresSql(ctx.url, { max: 1 }));
  const modes = ["off", "on", "notify"] as const;
  const samples: Record<(typeof modes)[number], number[]> = { off: [], on: [], notify: [] };
  try {
    for (let round = 0; round <= ctx.rounds; round++) {
      for (const mode of modes) {
        await setTriggers(admin, mode !== "off");
        await Promise.all(
          clients.map((c) =>
            c`select set_config('edgeflow.notify_events', ${
              mode === "notify" ? "on" : "off"
            }, false)`
          ),
        );
        await resetState(admin);
        await admin.exec("truncate edgeflow.events");
        await startRuns(admin, versionId, round === 0 ? 100 : runs);
        await analyzeState(admin);
        const m = await driveChains(clients, admin, round === 0 ? 100 : runs, 1);
        if (round > 0) samples[mode].push(m.perSecond); // round 0 warms up
        ctx.progress(`round ${round} events ${mode}: ${fmtInt(m.perSecond)} steps/s`);
      }
    }
  } finally {
    await setTriggers(admin, true);
    await Promise.all(clients.map((c) => c.end()));
  }
  const [off, on, notify] = modes.map((m) => median(samples[m]));
  const ratio = on / off;
  return {
    bench: OVERHEAD,
    figure: `${fmtInt(on)} steps/s with events (${fmtInt(notify)} with NOTIFY on)`,
    target: "— (cost of recording events)",
    baseline: `${fmtInt(off)} steps/s without`,
    ratio,
    verdict: "info",
    json: {
      bench: OVERHEAD,
      clients: ctx.clients,
      runs,
      steps_per_s_without: Math.round(off),
      steps_per_s_with: Math.round(on),
      steps_per_s_with_notify: Math.round(notify),
      ratio: Number(ratio.toFixed(3)),
      ratio_notify: Number((notify / off).toFixed(3)),
      samples,
    },
  };
}

/** The dashboard and events benchmark module (add it to BENCHMARKS in main.ts). */
export const uiBench: Benchmark = {
  name: "ui",
  method: `${SMALL} / ${BIG}: the median server time of \`GET /ui/runs?limit=10\` (first page, ` +
    "HTML rendered in-process through the app, admin key) over two databases side by side, " +
    "one with 10 finished runs and one with 100,000 (ANALYZEd), in interleaved rounds. " +
    `${OVERHEAD}: pre-started runs of the 3-step chain driven to completion by N claimers ` +
    "(claim one task, complete it), with the event triggers disabled, enabled, and enabled " +
    "with NOTIFY on; rounds interleave the three, each figure is the median.",
  figures: [SMALL, BIG, OVERHEAD],

  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    const admin = postgresSql(ctx.url, { max: 1 });
    try {
      const flow = await registerFlow(admin, CHAIN);
      const rows: BenchRow[] = [];
      if (selected.has(OVERHEAD)) rows.push(await overhead(ctx, admin, flow.id));
      if (selected.has(SMALL) || selected.has(BIG)) {
        rows.push(...(await runsPage(ctx, admin, flow.id)).filter((r) => selected.has(r.bench)));
      }
      return rows;
    } finally {
      await admin.end();
    }
  },
};
