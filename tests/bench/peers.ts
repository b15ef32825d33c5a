/**
 * `deno task bench --peers`: the same workload — chains of 3 steps, started
 * beforehand, 8 concurrent workers taking up to 10 tasks per call (pgflow's
 * default batch) — on the same Postgres, in one run, for pgflow 0.8.1,
 * graphile-worker, pg-boss, edgeflow through its SQL functions and through
 * its HTTP worker protocol, beside a raw pgmq send/read/delete cycle. Rounds
 * interleave the systems; each figure is the median of the rounds.
 *
 * Targets (quality.md): edgeflow over HTTP ≥ 2 × graphile-worker (goal 3 ×)
 * and ≥ 4 × pgflow.
 */
import { type BenchContext, type Benchmark, type BenchRow, fmtInt, median } from "./harness.ts";
import { edgeflowHttpPeer, edgeflowSqlPeer, pgmqCycleRate } from "./peers/edgeflow.ts";
import { graphileWorkerPeer, pgBossPeer } from "./peers/job_queues.ts";
import { pgflowPeer } from "./peers/pgflow.ts";
import { databaseUrl, type Peer, type Workload } from "./peers/workload.ts";

const FIG = {
  pgmq: "peers.pgmq.cycle",
  pgflow: "peers.pgflow",
  graphile: "peers.graphile_worker",
  boss: "peers.pg_boss",
  sql: "peers.edgeflow.sql",
  http: "peers.edgeflow.http",
  httpUngrouped: "peers.edgeflow.http.ungrouped",
  httpVsPgflow: "peers.edgeflow.http.vs_pgflow",
} as const;

const WORKLOAD = {
  full: { chains: 1500, workers: 8, batch: 10 },
  quick: { chains: 150, workers: 8, batch: 10 },
};

export const peersBench: Benchmark = {
  name: "peers",
  method: "The same workload on the same Postgres in one run: chains of 3 steps (a → b → c) " +
    "started beforehand, 8 concurrent workers taking up to 10 tasks per call, steps/s from " +
    "the first claim to the last completion. pgflow 0.8.1: its own migrations from " +
    "`npm:@pgflow/core@0.8.1`, the real pgmq extension, a no-op `realtime.send`, its edge " +
    "worker's cycle `pgmq.read_with_poll` → `pgflow.start_tasks` → `pgflow.complete_task`. " +
    "graphile-worker 0.18: `run({ concurrency: 8 })`, a task that adds the next job. " +
    "pg-boss 12: `work` with batchSize 10 and localConcurrency 8 per queue, a handler that " +
    "inserts the next jobs (its polling floor is 0.5 s). edgeflow SQL: `claim_tasks` → " +
    "`complete_tasks` on 8 connections. edgeflow HTTP: the server in its own process, 8 " +
    "workers each sending its batch's results in one `POST /heartbeat/tasks/complete` that " +
    "also claims its next 10 tasks (`next`, as the SDK does), and a long-polling " +
    "`POST /heartbeat` (capacity 10) only when a call brought no work; requests that arrive " +
    "while the server's 2 result calls are busy share the next (EDGEFLOW_RESULT_CALLS, " +
    "shared/app/result_groups.ts). edgeflow HTTP ungrouped: the same with " +
    "EDGEFLOW_RESULT_CALLS=0, each request its own call. pgmq.cycle: 8 " +
    "connections looping `send` + `read` + `delete` of one message.",
  figures: Object.values(FIG),

  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    const w: Workload = ctx.quick ? WORKLOAD.quick : WORKLOAD.full;
    const server = databaseUrl(ctx.url, "postgres");
    const all: [string, Peer][] = [
      [FIG.pgflow, pgflowPeer(server)],
      [FIG.graphile, graphileWorkerPeer(server)],
      [FIG.boss, pgBossPeer(server)],
      [FIG.sql, edgeflowSqlPeer(ctx.url)],
      [FIG.http, edgeflowHttpPeer(ctx.url)],
      [FIG.httpUngrouped, edgeflowHttpPeer(ctx.url, { grouped: false })],
    ];
    const need = new Set(selected);
    if (need.has(FIG.http)) need.add(FIG.graphile);
    if (need.has(FIG.httpVsPgflow)) [FIG.pgflow, FIG.http].forEach((f) => need.add(f));
    const peers: [string, Peer][] = [];
    const skipped = new Map<string, string>();
    for (const [fig, peer] of all) {
      if (!need.has(fig)) continue;
      const why = await peer.unavailable();
      if (why) {
        skipped.set(fig, why);
        ctx.progress(`${peer.name}: skipped, ${why}`);
        continue;
      }
      ctx.progress(`${peer.name}: setting up`);
      await peer.setup();
      peers.push([fig, peer]);
    }
    const samples = new Map<string, number[]>([[FIG.pgmq, []]]);
    try {
      for (let round = 0; round <= ctx.rounds; round++) {
        const label = round === 0 ? "warm-up" : `round ${round}/${ctx.rounds}`;
        // The warm-up round runs a tenth of the work and is not counted.
        const load = round === 0 ? { ...w, chains: Math.max(20, w.chains / 10) } : w;
        const base = await pgmqCycleRate(ctx.url, w.workers, ctx.quick ? 1 : 3);
        if (round > 0) samples.get(FIG.pgmq)!.push(base.perSecond);
        ctx.progress(`${label} pgmq cycle: ${fmtInt(base.perSecond)} cycles/s`);
        for (const [fig, peer] of peers) {
          const m = await peer.measure(load);
          if (round > 0) samples.set(fig, [...(samples.get(fig) ?? []), m.perSecond]);
          ctx.progress(
            `${label} ${peer.name}: ${fmtInt(m.perSecond)} steps/s ` +
              `(${fmtInt(m.steps)} in ${m.seconds.toFixed(2)} s)`,
          );
        }
      }
    } finally {
      for (const [, peer] of peers) await peer.close().catch(() => {});
    }
    return rows(ctx, w, samples, skipped, peers);
  },
};

function rows(
  ctx: BenchContext,
  w: Workload,
  samples: Map<string, number[]>,
  skipped: Map<string, string>,
  peers: [string, Peer][],
): BenchRow[] {
  const med = (fig: string) => samples.has(fig) ? median(samples.get(fig)!) : undefined;
  const common = { ...w, rounds: ctx.rounds, ...(ctx.quick ? { quick: true } : {}) };
  const base = med(FIG.pgmq)!;
  const out: BenchRow[] = [{
    bench: FIG.pgmq,
    figure: `${fmtInt(base)} cycles/s`,
    target: "— (baseline: send + read + delete, 8 connections)",
    baseline: "—",
    ratio: null,
    verdict: "baseline",
    json: { bench: FIG.pgmq, ...common, cycles_per_s: Math.round(base) },
  }];
  const name = new Map(peers.map(([fig, p]) => [fig, p.name]));
  const info = (fig: string, label: string) => {
    const v = med(fig);
    if (v === undefined) {
      const why = skipped.get(fig);
      if (why) {
        out.push({
          bench: fig,
          figure: "not measured",
          target: "—",
          baseline: "—",
          ratio: null,
          verdict: "info",
          json: { bench: fig, skipped: why },
        });
      }
      return;
    }
    out.push({
      bench: fig,
      figure: `${fmtInt(v)} steps/s`,
      target: `— (${name.get(fig) ?? label})`,
      baseline: `${fmtInt(base)} pgmq cycles/s`,
      ratio: v / base,
      verdict: "info",
      json: { bench: fig, ...common, steps_per_s: Math.round(v), samples: samples.get(fig) },
    });
  };
  info(FIG.pgflow, "pgflow");
  info(FIG.graphile, "graphile-worker");
  info(FIG.boss, "pg-boss");
  info(FIG.sql, "edgeflow SQL");
  info(FIG.httpUngrouped, "edgeflow HTTP, each request its own call");
  const http = med(FIG.http);
  const compare = (fig: string, peerFig: string, peerName: string, need: number) => {
    const peer = med(peerFig);
    if (http === undefined || peer === undefined) return;
    out.push({
      bench: fig,
      figure: `${fmtInt(http)} steps/s`,
      target: `≥ ${need} × ${peerName}`,
      baseline: `${peerName} ${fmtInt(peer)} steps/s`,
      ratio: http / peer,
      verdict: http >= need * peer ? "pass" : "FAIL",
      json: {
        bench: fig,
        ...common,
        steps_per_s: Math.round(http),
        peer_steps_per_s: Math.round(peer),
        ratio: Number((http / peer).toFixed(3)),
        target_ratio: need,
        samples: samples.get(FIG.http),
      },
    });
  };
  compare(FIG.http, FIG.graphile, "graphile-worker", 2);
  compare(FIG.httpVsPgflow, FIG.pgflow, "pgflow", 4);
  return out;
}
