/**
 * Retention (issue 15), on real Postgres:
 * - `retention.prune.batch`: one tick's retention (`edgeflow.prune(1000, 30)`: 1,000 finished
 *   runs with their step and task deleted) over N finished runs past retention;
 * - `retention.prune.all`: pruning all N runs in batches of 10,000, then the day partitions of
 *   their events dropped (the figure is the whole time, runs and events);
 * - `retention.drop.partition` vs `retention.delete.baseline`: one day's events (N/5 runs ×
 *   3 events) gone by dropping its partition, beside deleting the same rows from an
 *   unpartitioned copy of the table (what the design avoids);
 * - `retention.insert.partitioned` vs `retention.insert.plain`: 100,000 single-row inserts of
 *   an event (a plpgsql loop, the way the row triggers insert them) into the partitioned
 *   table and into an unpartitioned one with the same columns and indexes;
 * - `retention.logs.insert.partitioned` vs `retention.logs.insert.plain`: the same for log
 *   lines (edgeflow.task_logs, partitioned by run day since migration 0152), inserted 10 a
 *   statement as append_task_logs does.
 * Each run also has 2 log lines (task_logs), which `retention.prune.all` drops by partition
 * with the events (edgeflow.maintain_partitions after the last batch, timed with it).
 * Runs are seeded directly (5 days, 40 to 36 days ago) with triggers off
 * (session_replication_role = replica); their day partitions are made first.
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { flowDef } from "../support/flows.ts";
import { type BenchContext, type Benchmark, type BenchRow, fmtInt, median } from "./harness.ts";
import { resetState } from "./engine_load.ts";

const BATCH = "retention.prune.batch";
const ALL = "retention.prune.all";
const DROP = "retention.drop.partition";
const DELETE = "retention.delete.baseline";
const INS_P = "retention.insert.partitioned";
const INS_PLAIN = "retention.insert.plain";
const LOG_P = "retention.logs.insert.partitioned";
const LOG_PLAIN = "retention.logs.insert.plain";
const SIZES = { full: 1_000_000, quick: 10_000 };
const INSERTS = { full: 100_000, quick: 5_000 };

async function seed(sql: Sql, runs: number): Promise<void> {
  const flow = await registerFlow(sql, flowDef("bench_retention", [{ slug: "only" }]));
  await sql.exec(`
    do $$
    declare d int;
    begin
      for d in 0..4 loop
        execute format('create table if not exists edgeflow.%I partition of edgeflow.events
                          for values from (%L) to (%L)',
          'events_p' || to_char(date_trunc('day', now(), 'UTC') - make_interval(days => 40 - d), 'YYYYMMDD'),
          date_trunc('day', now(), 'UTC') - make_interval(days => 40 - d),
          date_trunc('day', now(), 'UTC') - make_interval(days => 39 - d));
        execute format('create table if not exists edgeflow.%I partition of edgeflow.task_logs
                          for values from (%L) to (%L)',
          'task_logs_p' || to_char(date_trunc('day', now(), 'UTC') - make_interval(days => 40 - d), 'YYYYMMDD'),
          date_trunc('day', now(), 'UTC') - make_interval(days => 40 - d),
          date_trunc('day', now(), 'UTC') - make_interval(days => 39 - d));
      end loop;
    end $$`);
  await sql.begin(async (tx) => {
    await tx.exec("set local session_replication_role = replica");
    await tx`
      insert into edgeflow.runs (id, flow_version_id, flow_name, version, pool, queue, status,
                                 remaining_steps, created_at, started_at, ended_at)
      select gen_random_uuid(), ${flow.id}::uuid, 'bench_retention', 1, 'default', 'default',
             'COMPLETED', 0, t, t, t + interval '1 second'
        from (select date_trunc('day', now(), 'UTC') - interval '40 days'
                     + (i % 5) * interval '1 day' + (i / 5) * interval '50 ms' as t
                from generate_series(0, ${runs - 1}::int) i) x`;
    await tx`
      insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps,
                                        remaining_tasks, total_tasks, ended_at)
      select id, 'only', 0, 'COMPLETED', 0, 0, 1, ended_at from edgeflow.runs`;
    await tx`
      insert into edgeflow.tasks (id, run_id, slug, task_index, status, attempts, max_attempts,
                                  queue_name, output, ended_at)
      select gen_random_uuid(), id, 'only', 0, 'COMPLETED', 1, 3, 'bench', '1', ended_at
        from edgeflow.runs`;
    await tx`
      insert into edgeflow.events (run_id, kind, step, from_status, to_status, at, run_created_at)
      select r.id, k.kind, k.step, k.f, k.t, r.created_at, r.created_at
        from edgeflow.runs r,
             (values ('run', null, null, 'PENDING'), ('step', 'only', 'QUEUED', 'COMPLETED'),
                     ('run', null, 'RUNNING', 'COMPLETED')) k(kind, step, f, t)`;
    await tx`
      insert into edgeflow.task_logs (at, run_id, step, task_id, attempt, level, message,
                                      run_created_at)
      select r.created_at, r.id, 'only', t.id, 1, 'info', 'line ' || n, r.created_at
        from edgeflow.runs r join edgeflow.tasks t on t.run_id = r.id, generate_series(1, 2) n`;
  });
  await sql.exec(
    "vacuum analyze edgeflow.runs, edgeflow.tasks, edgeflow.step_states, edgeflow.events, " +
      "edgeflow.task_logs",
  );
}

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** `n` log lines, 10 a statement (a typical shipped batch), into `table`. */
async function logInserts(sql: Sql, table: string, n: number): Promise<number> {
  const run = crypto.randomUUID();
  return await ms(() =>
    sql.exec(`
      do $$
      begin
        for i in 1..${Math.ceil(n / 10)} loop
          insert into ${table} (at, run_id, step, task_id, attempt, level, message, run_created_at)
          select now(), '${run}', 'only', '${run}', 1, 'info', 'a line of about forty characters', now()
            from generate_series(1, 10);
        end loop;
      end $$`)
  );
}

async function inserts(sql: Sql, table: string, n: number): Promise<number> {
  const run = crypto.randomUUID();
  return await ms(() =>
    sql.exec(`
      do $$
      begin
        for i in 1..${n} loop
          insert into ${table} (run_id, kind, to_status, at, run_created_at)
          values ('${run}', 'task', 'RUNNING', now(), now());
        end loop;
      end $$`)
  );
}

const info = (bench: string, figure: string, json: Record<string, unknown>): BenchRow => ({
  bench,
  figure,
  target: "—",
  baseline: "—",
  ratio: null,
  verdict: "info",
  json: { bench, ...json },
});

export const retentionBench: Benchmark = {
  name: "retention",
  method: "1,000,000 COMPLETED runs ended 36–40 days ago (one step, one task, 3 events each, " +
    "5 days of event partitions), seeded directly; then `edgeflow.prune(limit, 30)` as the tick " +
    "calls it: a batch of 1,000 (median of the first rounds), then all runs in batches of " +
    "10,000 and the emptied day partitions dropped. Baseline for the drop: the same day's " +
    "event rows deleted from an unpartitioned copy. Inserts: 100,000 single-row inserts in a " +
    "plpgsql loop into the partitioned events table and into an unpartitioned one with the " +
    "same columns and indexes; log lines (2 per run seeded) the same way, 10 a statement.",
  figures: [BATCH, ALL, DROP, DELETE, INS_P, INS_PLAIN, LOG_P, LOG_PLAIN],

  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    // Seeding 1,000,000 runs and deleting a day of events take longer than the 15 s default.
    const sql = postgresSql(ctx.url, { max: 1, statementTimeoutMs: 0 });
    const out: BenchRow[] = [];
    const runs = Number(Deno.env.get("EDGEFLOW_BENCH_RETENTION_RUNS")) ||
      (ctx.quick ? SIZES.quick : SIZES.full);
    try {
      await resetState(sql);
      const t0 = performance.now();
      await seed(sql, runs);
      ctx.progress(
        `${fmtInt(runs)} finished runs seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );

      // The baseline copy of one day's events, unpartitioned, before anything is pruned.
      const [{ day }] = await sql<{ day: string }>`
        select to_char(date_trunc('day', now(), 'UTC') - interval '40 days', 'YYYYMMDD') as day`;
      await sql.exec(
        `create table edgeflow.bench_events_plain (like edgeflow.events including defaults);
        insert into edgeflow.bench_events_plain select * from edgeflow.events_p${day};
        alter table edgeflow.bench_events_plain add primary key (id);
        create index on edgeflow.bench_events_plain (run_id, id);
        create table edgeflow.bench_events_copy
          (like edgeflow.events including defaults including identity including constraints);
        alter table edgeflow.bench_events_copy add primary key (id);
        create index on edgeflow.bench_events_copy (run_id, id);
        analyze edgeflow.bench_events_plain`,
      );
      const [{ dayRows }] = await sql<{ dayRows: number }>`
        select count(*)::int as "dayRows" from edgeflow.bench_events_plain`;

      const batches: number[] = [];
      for (let i = 0; i < ctx.rounds; i++) {
        batches.push(await ms(() => sql`select edgeflow.prune(1000, 30)`));
      }
      const batch = median(batches);
      ctx.progress(`prune batch of 1,000: ${batch.toFixed(1)} ms`);
      if (selected.has(BATCH)) {
        out.push(info(BATCH, `${batch.toFixed(1)} ms / 1,000 runs`, { ms: batch, runs }));
      }

      let calls = 0;
      let dropped = 0;
      const all = await ms(async () => {
        for (;;) {
          const [{ r }] = await sql<{ r: { pruned_runs: number; partitions_dropped: number } }>`
            select edgeflow.prune(10000, 30) as r`;
          calls++;
          if (r.pruned_runs === 0) break;
          if (calls > runs / 10_000 + 20) throw new Error("pruning does not finish");
        }
        // The days' events and log lines, by partition (the tick's last step).
        const [{ p }] = await sql<{ p: { partitions_dropped: number } }>`
          select edgeflow.maintain_partitions() as p`;
        dropped = p.partitions_dropped;
      });
      const [{ lines }] = await sql<{ lines: number }>`
        select count(*)::int as lines from edgeflow.task_logs`;
      if (lines !== 0) throw new Error(`${lines} log lines left after pruning`);
      const left = runs - ctx.rounds * 1000;
      ctx.progress(
        `pruned ${fmtInt(left)} runs in ${
          (all / 1000).toFixed(1)
        } s (${calls} calls, ${dropped} partitions dropped)`,
      );
      if (selected.has(ALL)) {
        out.push(
          info(
            ALL,
            `${(all / 1000).toFixed(1)} s for ${fmtInt(left)} runs (${
              fmtInt(left / (all / 1000))
            } runs/s), ${dropped} partitions dropped`,
            { ms: all, runs: left, dropped },
          ),
        );
      }

      // One day partition dropped vs the same rows deleted (fresh copies of the day's rows).
      await sql.exec(`create table edgeflow.events_p20000101 partition of edgeflow.events
                        for values from ('2000-01-01 00:00+00') to ('2000-01-02 00:00+00');
                      insert into edgeflow.events overriding system value
                        select id, run_id, kind, step, task, attempt, from_status, to_status, at, error,
                               '2000-01-01 12:00+00' from edgeflow.bench_events_plain;
                      analyze edgeflow.events_p20000101`);
      const drop = await ms(() => sql.exec("drop table edgeflow.events_p20000101"));
      const del = await ms(() => sql.exec("delete from edgeflow.bench_events_plain"));
      ctx.progress(
        `${fmtInt(dayRows)} event rows: drop ${drop.toFixed(1)} ms, delete ${del.toFixed(0)} ms`,
      );
      if (selected.has(DROP)) {
        out.push({
          ...info(DROP, `${drop.toFixed(1)} ms for ${fmtInt(dayRows)} rows`, {
            ms: drop,
            rows: dayRows,
          }),
          baseline: `${del.toFixed(0)} ms`,
          ratio: del / drop,
        });
      }
      if (selected.has(DELETE)) {
        out.push({
          ...info(DELETE, `${del.toFixed(0)} ms for ${fmtInt(dayRows)} rows`, {
            ms: del,
            rows: dayRows,
          }),
          verdict: "baseline",
        });
      }

      // Inserts: partitioned vs plain, alternating, median of rounds.
      const n = ctx.quick ? INSERTS.quick : INSERTS.full;
      const part: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < ctx.rounds; i++) {
        part.push(await inserts(sql, "edgeflow.events", n));
        plain.push(await inserts(sql, "edgeflow.bench_events_copy", n));
      }
      const p = median(part);
      const q = median(plain);
      ctx.progress(
        `${fmtInt(n)} inserts: partitioned ${p.toFixed(0)} ms, plain ${q.toFixed(0)} ms`,
      );
      const perRow = (t: number) => `${((t * 1000) / n).toFixed(1)} µs/row`;
      if (selected.has(INS_P)) {
        out.push({
          ...info(INS_P, perRow(p), { ms: p, rows: n }),
          baseline: perRow(q),
          ratio: q / p,
        });
      }
      if (selected.has(INS_PLAIN)) {
        out.push({ ...info(INS_PLAIN, perRow(q), { ms: q, rows: n }), verdict: "baseline" });
      }

      // Log lines: partitioned task_logs vs an unpartitioned copy, alternating.
      await sql.exec(`create table edgeflow.bench_logs_plain
                        (like edgeflow.task_logs including defaults including identity
                         including constraints);
                      alter table edgeflow.bench_logs_plain add primary key (id);
                      create index on edgeflow.bench_logs_plain (run_id, id)`);
      const lp: number[] = [];
      const lq: number[] = [];
      for (let i = 0; i < ctx.rounds; i++) {
        lp.push(await logInserts(sql, "edgeflow.task_logs", n));
        lq.push(await logInserts(sql, "edgeflow.bench_logs_plain", n));
      }
      const a = median(lp);
      const b = median(lq);
      ctx.progress(
        `${fmtInt(n)} log lines: partitioned ${a.toFixed(0)} ms, plain ${b.toFixed(0)} ms`,
      );
      if (selected.has(LOG_P)) {
        out.push({
          ...info(LOG_P, perRow(a), { ms: a, rows: n }),
          baseline: perRow(b),
          ratio: b / a,
        });
      }
      if (selected.has(LOG_PLAIN)) {
        out.push({ ...info(LOG_PLAIN, perRow(b), { ms: b, rows: n }), verdict: "baseline" });
      }
      await sql.exec(
        "drop table edgeflow.bench_events_plain, edgeflow.bench_events_copy, " +
          "edgeflow.bench_logs_plain",
      );
    } finally {
      await sql.end();
    }
    return out;
  },
};
