/**
 * Scheduler tick cost (spec/quality.md: 10,000 active schedules, 1 % due,
 * ≤ 50 ms), beside an empty tick on the same database in the same run:
 * - `tick.empty`: the baseline, a tick with nothing due (sweep + index probe);
 * - `tick.due1pct`: a tick with 100 of 10,000 schedules due, creating their
 *   100 runs (SCHEDULED/PENDING, one task each, in pgmq);
 * - `tick.start_runs`: the engine's own floor for that work, 100
 *   `edgeflow.start_run` calls in one statement with no scheduler around
 *   them, so the scheduler's overhead (due1pct − start_runs) is visible.
 *
 * The schedules are daily crons in four zones (UTC, Asia/Kolkata,
 * Europe/Berlin, America/New_York) on 1,000 deployments. Each round makes a
 * different 100 due (their fire time 10 s before the tick's clock), so the
 * parsed-spec memo never holds them: the figure is a tick in a warm isolate
 * seeing these schedules for the first time. `runTick` is called as the
 * route calls it, with a pool of `--clients` connections.
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { runTick } from "../../shared/app/tick.ts";
import { planAhead } from "../../shared/scheduler/plan_ahead.ts";
import type { AppDeps } from "../../shared/app/deps.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { nextFireTime, parseSchedule } from "../../shared/schedule/mod.ts";
import { formatLocal } from "../../shared/schedule/zone.ts";
import { specJson } from "../../shared/scheduler/stored_spec.ts";
import { flowDef } from "../support/flows.ts";
import { type BenchContext, type Benchmark, type BenchRow, median } from "./harness.ts";
import { analyzeState, resetState } from "./engine_load.ts";

const EMPTY = "tick.empty";
const FLOOR = "tick.start_runs";
const DUE = "tick.due1pct";
const SCHEDULES = 10_000;
const DUE_PER_TICK = 100;
const TARGET_MS = 50;
const ZONES = ["UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York"];
const EMPTY_SAMPLES = 5;

/** A daily 6-field cron firing at the wall time `at` shows in `zone`. */
function dailyAt(at: number, zone: string) {
  const [h, m, s] = formatLocal(at, zone).slice(11, 19).split(":").map(Number);
  const parsed = parseSchedule({ cron: `${s} ${m} ${h} * * *`, timezone: zone }, "", {
    defaultAnchor: new Date(at),
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

/**
 * 10,000 schedules on 1,000 deployments, 10 each. Those of the first
 * `dueSets`·10 deployments fire daily at `fireAt`, the rest at other times
 * spread over the day; every next_fire_at lies ahead until {@link arm}.
 */
async function seed(sql: Sql, fireAt: number, dueSets: number): Promise<string> {
  const flow = await registerFlow(sql, flowDef("bench_tick", [{ slug: "work" }]));
  if (!flow.id) throw new Error("flow not registered");
  await sql`
    insert into edgeflow.deployments (name, flow_name, pool)
    select 'tick-' || i, 'bench_tick', 'default' from generate_series(0, 999) as i`;
  const rows = Array.from({ length: SCHEDULES }, (_, i) => {
    const zone = ZONES[i % ZONES.length];
    const at = i < dueSets * DUE_PER_TICK
      ? fireAt
      : fireAt + 120_000 + (i * 8_317_000) % 86_000_000;
    const spec = dailyAt(at, zone);
    const next = nextFireTime(spec, new Date(fireAt + 1000))!;
    return { i, spec: specJson(spec), timezone: zone, next: next.toISOString() };
  });
  await sql`
    insert into edgeflow.schedules (deployment_id, position, kind, spec, timezone, next_fire_at)
    select d.id, e.i % 10, 'cron', e.spec, e.timezone, e.next
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
             as e(i integer, spec jsonb, timezone text, next timestamptz)
      join edgeflow.deployments d on d.name = 'tick-' || (e.i / 10)`;
  // Their fire times planned ahead, as a deploy does (shared/scheduler/plan_ahead.ts):
  // unplanned, every measured tick spent its whole planning budget (150 ms) on
  // them, which no deployed system does after its deploys.
  for (let i = 0; i < 500 && await planAhead(sql, new Date(fireAt - 3_600_000), 1000) > 0; i++);
  await sql.exec(
    "vacuum analyze edgeflow.schedules, edgeflow.deployments, edgeflow.schedule_plans",
  );
  return flow.id;
}

/**
 * Make due set `set` (the schedules of deployments tick-(10·set) … tick-(10·set+9),
 * which fire daily at `fireAt`) due now, on an empty run table. Not measured.
 */
async function arm(sql: Sql, set: number, fireAt: number): Promise<void> {
  await resetState(sql);
  const names = Array.from({ length: DUE_PER_TICK / 10 }, (_, k) => `tick-${set * 10 + k}`);
  await sql`
    update edgeflow.schedules set next_fire_at = ${new Date(fireAt).toISOString()}::timestamptz
     where deployment_id in (select id from edgeflow.deployments
                              where name in (select jsonb_array_elements_text(
                                               ${JSON.stringify(names)}::text::jsonb)))`;
  await sql.exec("vacuum analyze edgeflow.schedules");
  await analyzeState(sql);
}

/**
 * The same 100 runs straight through start_run, in one statement: one per
 * deployment of the next due set (so deployment triggers such as run
 * admission run for them too), scheduled, with an idempotency key.
 */
async function timedStartRuns(sql: Sql, versionId: string, set: number): Promise<number> {
  const started = performance.now();
  await sql`
    select count(edgeflow.start_run(${versionId}::uuid, '{}'::jsonb, jsonb_build_object(
             'deployment_id', d.id, 'pool', d.pool, 'queue', d.queue, 'tags', to_jsonb(d.tags),
             'scheduled_time', now() + interval '1 minute', 'idempotency_scope', 'bench-floor',
             'idempotency_key', ${String(set)} || '.' || i)))
      from generate_series(1, ${DUE_PER_TICK}) as i
      join edgeflow.deployments d on d.name = 'tick-' || (${set * 10}::int + i % 10)`;
  return performance.now() - started;
}

async function timedTick(sql: Sql, now: Date) {
  const deps: AppDeps = {
    sql: () => sql,
    config: { heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
    now: () => now,
  };
  const started = performance.now();
  const result = await runTick(deps, undefined as never);
  return { ms: performance.now() - started, ...result };
}

export const tickBench: Benchmark = {
  name: "tick",
  method: `${SCHEDULES.toLocaleString("en-US")} active schedules (daily 6-field crons in UTC, ` +
    "Asia/Kolkata, Europe/Berlin and America/New_York, 10 per deployment on 1,000 " +
    `deployments). ${DUE}: \`runTick\` (sweep + scheduler) at a clock where ${DUE_PER_TICK} of ` +
    "them are due, creating their runs; each round a different 100 (fresh to the " +
    `parsed-spec memo). ${EMPTY}: the same call with nothing due (median of ${EMPTY_SAMPLES} ` +
    `per round). ${FLOOR}: ${DUE_PER_TICK} \`edgeflow.start_run\` calls in one statement, the ` +
    "engine's cost of the runs alone. A pool of --clients connections; rounds interleave " +
    "the three; each figure is the median of the rounds after a warm-up round.",
  figures: [EMPTY, FLOOR, DUE],

  async run(ctx: BenchContext, _selected: Set<string>): Promise<BenchRow[]> {
    const sql = postgresSql(ctx.url, { max: ctx.clients });
    try {
      const fireAt = Math.floor(Date.now() / 1000) * 1000;
      const rounds = ctx.rounds + 1; // the first is a warm-up
      const versionId = await seed(sql, fireAt, rounds);
      ctx.progress(`seeded ${SCHEDULES} schedules`);
      const samples = { empty: [] as number[], floor: [] as number[], due: [] as number[] };
      for (let round = 0; round < rounds; round++) {
        await arm(sql, round, fireAt);
        const e: number[] = [];
        for (let i = 0; i < EMPTY_SAMPLES; i++) {
          e.push((await timedTick(sql, new Date(fireAt - 3_600_000))).ms);
        }
        const floor = await timedStartRuns(sql, versionId, round);
        const t = await timedTick(sql, new Date(fireAt + 10_000));
        if (t.created !== DUE_PER_TICK) {
          throw new Error(`expected ${DUE_PER_TICK} runs, got ${t.created}`);
        }
        ctx.progress(
          `round ${round}${round === 0 ? " (warm-up)" : ""}: empty ${median(e).toFixed(2)} ms, ` +
            `start_runs ${floor.toFixed(1)} ms, due tick ${t.ms.toFixed(1)} ms (${t.created} runs)`,
        );
        if (round === 0) continue;
        samples.empty.push(median(e));
        samples.floor.push(floor);
        samples.due.push(t.ms);
      }
      return rows(ctx, samples);
    } finally {
      await sql.end();
    }
  },
};

function rows(
  ctx: BenchContext,
  samples: { empty: number[]; floor: number[]; due: number[] },
): BenchRow[] {
  const [base, floor, cost] = [median(samples.empty), median(samples.floor), median(samples.due)];
  const ms = (x: number) => Number(x.toFixed(2));
  const common = {
    clients: ctx.clients,
    runs: ctx.rounds,
    schedules: SCHEDULES,
    due: DUE_PER_TICK,
    ...(ctx.quick ? { quick: true } : {}),
  };
  return [{
    bench: EMPTY,
    figure: `${base.toFixed(2)} ms`,
    target: "— (baseline: nothing due)",
    baseline: "—",
    ratio: null,
    verdict: "baseline",
    json: { bench: EMPTY, ...common, ms: ms(base), samples: samples.empty.map(ms) },
  }, {
    bench: FLOOR,
    figure: `${floor.toFixed(1)} ms`,
    target: `— (the engine's cost of ${DUE_PER_TICK} runs)`,
    baseline: "—",
    ratio: null,
    verdict: "info",
    json: { bench: FLOOR, ...common, ms: ms(floor), samples: samples.floor.map(ms) },
  }, {
    bench: DUE,
    figure: `${cost.toFixed(1)} ms (${DUE_PER_TICK} runs; ${(cost - floor).toFixed(1)} ms ` +
      "beyond start_run)",
    target: `≤ ${TARGET_MS} ms`,
    baseline: `${base.toFixed(2)} ms`,
    ratio: cost / base,
    verdict: cost <= TARGET_MS ? "pass" : "FAIL",
    json: {
      bench: DUE,
      ...common,
      ms: ms(cost),
      baseline_ms: ms(base),
      ratio: ms(cost / base),
      start_runs_ms: ms(floor),
      overhead_ms: ms(cost - floor),
      target_ms: TARGET_MS,
      samples: samples.due.map(ms),
    },
  }];
}
