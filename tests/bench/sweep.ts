/**
 * The zombie sweep and crash recovery (spec/quality.md, issue 5), timed on
 * the path the tick takes (`edgeflow.maintenance`, see shared/app/tick.ts):
 * - `sweep.1m.none`: one sweep over 1,000,000 task rows, none expired;
 * - `sweep.1m.tick`: one tick's sweep (1,000 leases, the default batch) with
 *   1 % of the rows expired;
 * - `sweep.1m.all`: sweeping all 10,000 expired leases, and the cost per lease;
 * - `recovery.sigkill`: a worker process SIGKILLed mid-task → its task in
 *   another worker's hands (lease 1 s), and the part of it after the lease ran out.
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { claimTasks } from "../../shared/engine/tasks.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { flowDef } from "../support/flows.ts";
import { serveApp, sleep, spawnWorker, until } from "../faults/harness.ts";
import { type BenchContext, type Benchmark, type BenchRow, fmtInt, median } from "./harness.ts";
import { resetState } from "./engine_load.ts";

const NONE = "sweep.1m.none";
const TICK = "sweep.1m.tick";
const ALL = "sweep.1m.all";
const SIGKILL = "recovery.sigkill";
const TARGET_MS = 50;

const SIZES = { full: { runs: 10_000, perRun: 100 }, quick: { runs: 1_000, perRun: 100 } };

/** Fill the database: 1 task in 100 is RUNNING (task_index 0 of every run); the rest COMPLETED. */
export async function populate(admin: Sql, runs: number, perRun: number): Promise<void> {
  const flow = await registerFlow(
    admin,
    flowDef("bench_sweep", [
      { slug: "src" },
      { slug: "each", depends_on: ["src"], map: "src", max_attempts: 1000 },
    ]),
  );
  await admin`
    insert into edgeflow.runs (id, flow_version_id, flow_name, version, pool, queue, status,
                               remaining_steps, started_at)
    select gen_random_uuid(), ${flow.id}::uuid, 'bench_sweep', 1, 'default', 'default',
           'RUNNING', 1, now()
      from generate_series(1, ${runs}::int)`;
  await admin`
    insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps,
                                      remaining_tasks, total_tasks)
    select r.id, s.slug, s.i, case s.i when 0 then 'COMPLETED' else 'RUNNING' end, 0,
           case s.i when 0 then 0 else 1 end, case s.i when 0 then 1 else ${perRun}::int end
      from edgeflow.runs r, (values ('src', 0), ('each', 1)) as s(slug, i)`;
  const [{ q }] = await admin<{ q: string }>`
    select edgeflow.ensure_handler_queue('default', 'default', 'each', 30) as q`;
  await admin`
    insert into edgeflow.tasks (id, run_id, slug, task_index, status, attempts, max_attempts,
                                queue_name, output, ended_at)
    select gen_random_uuid(), r.id, 'each', i, case i when 0 then 'RUNNING' else 'COMPLETED' end,
           1, 1000, ${q}, case i when 0 then null else '1'::jsonb end,
           case i when 0 then null else now() end
      from edgeflow.runs r, generate_series(0, ${perRun - 1}::int) as i`;
  // The running tasks' messages, as a claim would have left them.
  await admin`
    with running as (
      select id, run_id, row_number() over (order by id) as rn
        from edgeflow.tasks where status = 'RUNNING'),
    sent as (
      select m.id as msg, row_number() over () as rn
        from pgmq.send_batch(${q}, (select array_agg(jsonb_build_object('task', id, 'run', run_id)
                                                     order by rn) from running)) as m(id))
    update edgeflow.tasks t set msg_id = sent.msg
      from running join sent using (rn) where t.id = running.id`;
}

/** Give every running task a lease that expired (`expired`) or one that has not. */
export async function setLeases(admin: Sql, expired: boolean): Promise<void> {
  await admin`
    update edgeflow.tasks
       set status = 'RUNNING', lease = gen_random_uuid(), attempts = 1, error = null,
           lease_expires_at = case when ${expired}
                                   then now() - random() * interval '10 minutes'
                                   else now() + interval '1 hour' end
     where slug = 'each' and task_index = 0`;
  await admin.exec("vacuum analyze edgeflow.tasks, edgeflow.runs");
}

async function timed(admin: Sql, limit: number): Promise<{ ms: number; swept: number }> {
  const t0 = performance.now();
  // What the tick calls (shared/app/tick.ts): the sweep and rate-limit pruning.
  const [row] = await admin<{ r: { swept: number } }>`
    select edgeflow.maintenance(${limit}::int) as r`;
  return { ms: performance.now() - t0, swept: row.r.swept };
}

/** SIGKILL a worker holding a task with a 1 s lease; time until another claimer has it. */
async function sigkillOnce(sql: Sql): Promise<{ total: number; afterLease: number }> {
  await resetState(sql);
  const flow = await registerFlow(sql, flowDef("bench_kill", [{ slug: "s", timeout: 1 }]));
  await sql`select edgeflow.start_run(${flow.id}::uuid, '{}'::jsonb)`;
  const server = serveApp(sql);
  const doomed = spawnWorker(server.url, "doomed", ["--hang", "--beat-ms", "200"]);
  try {
    const claimed = await until(
      "the claim",
      () => doomed.events.find((e) => e.event === "claimed"),
      { everyMs: 10 },
    );
    await sleep(300); // a heartbeat or two: the lease is as fresh as a live worker keeps it
    await doomed.kill();
    const killedAt = performance.now();
    const [{ left }] = await sql<{ left: number }>`
      select extract(epoch from lease_expires_at - clock_timestamp()) * 1000 as left
        from edgeflow.tasks where id = ${claimed.task}::uuid`;
    const again = await until(
      "the re-claim",
      async () => (await claimTasks(sql, "default", null, 1, "survivor"))[0],
      { everyMs: 5, timeoutMs: 10_000 },
    );
    if (again.task !== claimed.task) throw new Error("re-claimed another task");
    const total = performance.now() - killedAt;
    return { total, afterLease: total - Math.max(0, Number(left)) };
  } finally {
    await doomed.kill();
    await server.close();
  }
}

export const sweepBench: Benchmark = {
  name: "sweep",
  method: `${NONE}, ${TICK}, ${ALL}: 10,000 RUNNING runs of a map step with 100 tasks each ` +
    "(1,000,000 task rows), task 0 of every run RUNNING, the rest COMPLETED, inserted directly; " +
    "before each measurement the running tasks get a lease that has expired (1 % of the rows) " +
    "or not, then `vacuum analyze`. One client times `select edgeflow.maintenance(limit)`, " +
    "what the tick calls (expiry, re-queue with its pgmq message, slot release, the run passes, rate-limit pruning): " +
    "limit 1,000 (a tick) and 100,000 (all of them). " +
    `${SIGKILL}: a worker process (tests/faults/worker_process.ts, HTTP) claims a task whose ` +
    "lease is 1 s and heartbeats every 200 ms; it is SIGKILLed, and a claimer polling every 5 ms " +
    "gets the task again; the figure is kill → re-claim, and re-claim − lease expiry.",
  figures: [NONE, TICK, ALL, SIGKILL],

  async run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]> {
    // Seeding a million task rows took over the client's default 15 s statement
    // timeout at load average 7 (2026-12-01); the measured calls are timed here.
    const admin = postgresSql(ctx.url, { max: 4, statementTimeoutMs: 300_000 });
    const out: BenchRow[] = [];
    const size = ctx.quick ? SIZES.quick : SIZES.full;
    const rows = size.runs * size.perRun;
    const common = {
      runs: ctx.rounds,
      rows,
      expired: size.runs,
      ...(ctx.quick ? { quick: true } : {}),
    };
    try {
      if ([NONE, TICK, ALL].some((f) => selected.has(f))) {
        await resetState(admin);
        const t0 = performance.now();
        await populate(admin, size.runs, size.perRun);
        ctx.progress(
          `${fmtInt(rows)} task rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        const samples: Record<string, number[]> = { [NONE]: [], [TICK]: [], [ALL]: [] };
        for (let round = 1; round <= ctx.rounds; round++) {
          await setLeases(admin, false);
          samples[NONE].push((await timed(admin, 1000)).ms);
          await setLeases(admin, true);
          const tick = await timed(admin, 1000);
          samples[TICK].push(tick.ms);
          await setLeases(admin, true);
          const all = await timed(admin, 100_000);
          samples[ALL].push(all.ms);
          ctx.progress(
            `round ${round}/${ctx.rounds}: none ${samples[NONE].at(-1)!.toFixed(1)} ms, ` +
              `tick ${tick.ms.toFixed(1)} ms (${tick.swept}), all ${
                all.ms.toFixed(0)
              } ms (${all.swept})`,
          );
        }
        const row = (bench: string, per: number, what: string) => {
          if (!selected.has(bench)) return;
          const ms = median(samples[bench]);
          out.push({
            bench,
            figure: `${ms.toFixed(1)} ms (${what}${
              per ? `, ${((ms * 1000) / per).toFixed(0)} µs/lease` : ""
            })`,
            target: bench === ALL ? "— (cost per expired lease)" : `≤ ${TARGET_MS} ms`,
            baseline: "—",
            ratio: null,
            verdict: bench === ALL ? "info" : ms <= TARGET_MS ? "pass" : "FAIL",
            json: {
              bench,
              ...common,
              ms: Number(ms.toFixed(2)),
              samples: samples[bench].map((x) => Number(x.toFixed(2))),
            },
          });
        };
        row(NONE, 0, "0 expired");
        row(TICK, 1000, "1,000 of 10,000 expired swept");
        row(ALL, size.runs, `all ${fmtInt(size.runs)} expired swept`);
        await resetState(admin);
      }
      if (selected.has(SIGKILL)) {
        const totals: number[] = [];
        const after: number[] = [];
        for (let round = 1; round <= Math.max(3, ctx.rounds); round++) {
          const m = await sigkillOnce(admin);
          totals.push(m.total);
          after.push(m.afterLease);
          ctx.progress(
            `sigkill ${round}: re-claimed ${m.total.toFixed(0)} ms after the kill, ` +
              `${m.afterLease.toFixed(0)} ms after the lease ran out`,
          );
        }
        const total = median(totals);
        out.push({
          bench: SIGKILL,
          figure: `${fmtInt(total)} ms kill → re-claim (lease 1 s; ${
            fmtInt(median(after))
          } ms after expiry)`,
          target: "— (bounded by the lease)",
          baseline: "—",
          ratio: null,
          verdict: "info",
          json: {
            bench: SIGKILL,
            runs: totals.length,
            lease_s: 1,
            kill_to_reclaim_ms: Math.round(total),
            expiry_to_reclaim_ms: Math.round(median(after)),
            samples: totals.map(Math.round),
          },
        });
        await resetState(admin);
      }
      return out;
    } finally {
      await admin.end();
    }
  },
};
