/**
 * Where the peer workload's time goes under concurrency (not a figure of the
 * bench): the edgeflow SQL and HTTP peers of `deno task bench --peers`, run
 * in interleaved rounds on a fresh database, with
 * - CPU time (`/proc/<pid>/stat`) of the Postgres backends of the bench
 *   database, Postgres's background processes (WAL writer, checkpointer…),
 *   the edgeflow server process and this process (the workers);
 * - pg_stat_activity sampled every few milliseconds: how many backends were
 *   running, idle, or waiting, and on what (locks, WAL flush, client reads);
 * - round trips and the tasks each claim brought (short claims).
 *
 *   deno run -A tests/bench/peers/diagnose.ts [--chains 1500] [--rounds 2] [--only http]
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../../shared/db/postgres.ts";
import type { Sql } from "../../../shared/db/sql.ts";
import { createBenchDatabase } from "../bench_db.ts";
import { driveChains } from "../engine_load.ts";
import { edgeflowHttpLoop, prepare, startServer } from "./edgeflow.ts";
import { STEPS_PER_CHAIN } from "./workload.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    chains: { type: "string", default: "1500" },
    rounds: { type: "string", default: "2" },
    workers: { type: "string", default: "8" },
    batch: { type: "string", default: "10" },
    only: { type: "string" },
    // Also report pg_stat_user_functions (track_functions = all): time in each function.
    functions: { type: "boolean", default: false },
    // A JSON file {"name": "sql to apply", …}: each round measures every variant in turn.
    variants: { type: "string" },
  },
});
const CHAINS = Number(args.chains), ROUNDS = Number(args.rounds);
const WORKERS = Number(args.workers), BATCH = Number(args.batch);
const TICK = 100; // clock ticks per second (USER_HZ)

function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 1000 / TICK;
  } catch {
    return NaN;
  }
}

/** Samples the bench database's backends; returns counts by state/wait and CPU per group. */
function sampler(admin: Sql, db: string, serverPid: number | null) {
  const counts = new Map<string, number>();
  const seen = new Map<number, { type: string; start: number }>();
  let samples = 0, stop = false;
  const t0 = performance.now();
  const selfStart = cpuMs("self");
  const serverStart = serverPid ? cpuMs(serverPid) : 0;
  const loop = (async () => {
    while (!stop) {
      const rows = await admin<{ pid: number; k: string; type: string; ours: boolean }>`
        select pid, backend_type as type, datname = ${db} as ours,
               coalesce(state, '-') || ' ' || coalesce(wait_event_type || ':' || wait_event, 'cpu') as k
          from pg_catalog.pg_stat_activity where pid <> pg_backend_pid()`;
      samples++;
      for (const r of rows) {
        const group = r.ours ? "backend" : r.type === "client backend" ? null : r.type;
        if (!group) continue;
        if (!seen.has(r.pid)) seen.set(r.pid, { type: group, start: cpuMs(r.pid) });
        if (r.ours) counts.set(r.k, (counts.get(r.k) ?? 0) + 1);
      }
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    const cpu = new Map<string, number>();
    for (const [pid, s] of seen) {
      const d = cpuMs(pid) - s.start;
      if (Number.isFinite(d)) cpu.set(s.type, (cpu.get(s.type) ?? 0) + d);
    }
    cpu.set("workers (this process)", cpuMs("self") - selfStart);
    if (serverPid) cpu.set("edgeflow server", cpuMs(serverPid) - serverStart);
    return { samples, counts, cpu, wallMs: performance.now() - t0 };
  };
}

/** Calls, total and self milliseconds per function since the last reset, per step. */
async function functionReport(admin: Sql, steps: number): Promise<string> {
  await new Promise((res) => setTimeout(res, 600)); // stats are flushed at most every 500 ms
  const rows = await admin<{ f: string; calls: number; total: number; self: number }>`
    select schemaname || '.' || funcname as f, calls::int, total_time as total, self_time as self
      from pg_catalog.pg_stat_user_functions order by self_time desc limit 25`;
  await admin`select pg_catalog.pg_stat_reset()`;
  return rows.map((r) =>
    `    ${r.f.padEnd(40)} calls/step ${(r.calls / steps).toFixed(3)}  total ${
      (r.total * 1000 / steps).toFixed(0)
    } µs/step  self ${(r.self * 1000 / steps).toFixed(0)} µs/step`
  ).join("\n");
}

function report(
  label: string,
  steps: number,
  seconds: number,
  s: Awaited<ReturnType<ReturnType<typeof sampler>>>,
  extra = "",
) {
  const lines = [
    `${label}: ${Math.round(steps / seconds)} steps/s (${steps} in ${
      seconds.toFixed(2)
    } s) ${extra}`,
  ];
  const per = (ms: number) => `${(ms * 1000 / steps).toFixed(0)} µs/step`;
  let total = 0;
  for (const [k, v] of [...s.cpu].sort((a, b) => b[1] - a[1])) {
    total += v;
    lines.push(`  cpu ${k.padEnd(24)} ${v.toFixed(0).padStart(6)} ms  ${per(v)}`);
  }
  lines.push(
    `  cpu ${"total".padEnd(24)} ${total.toFixed(0).padStart(6)} ms  ${per(total)}  ` +
      `(${(total / s.wallMs).toFixed(2)} cores over ${(s.wallMs / 1000).toFixed(1)} s)`,
  );
  lines.push(`  pg_stat_activity, ${s.samples} samples, mean backends per state:`);
  for (const [k, v] of [...s.counts].sort((a, b) => b[1] - a[1])) {
    lines.push(`    ${k.padEnd(40)} ${(v / s.samples).toFixed(2)}`);
  }
  console.log(lines.join("\n"));
}

const serverUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const db = await createBenchDatabase(serverUrl);
if (args.functions) {
  await postgresSql(db.url, { max: 1 }).exec(
    `alter database "${db.name}" set track_functions = 'all'`,
  );
}
const admin = postgresSql(db.url, { max: 1 });
const watch = postgresSql(db.url, { max: 1 });
const server = await startServer(db.url);
const variants: [string, string][] = args.variants
  ? Object.entries(JSON.parse(Deno.readTextFileSync(args.variants)))
  : [["", ""]];
try {
  if (args.functions) await admin`select pg_catalog.pg_stat_reset()`;
  for (let round = 0; round <= ROUNDS; round++) {
    const chains = round === 0 ? Math.max(20, CHAINS / 10) : CHAINS;
    for (const [variant, variantSql] of variants) {
      if (variantSql) await admin.exec(variantSql);
      const tag = `${round === 0 ? "warm-up" : `round ${round}`}${variant && ` ${variant}`}`;
      if (args.only !== "http") {
        await prepare(admin, chains);
        const clients = Array.from({ length: WORKERS }, () => postgresSql(db.url, { max: 1 }));
        await Promise.all(clients.map((c) => c`select 1`));
        const done = sampler(watch, db.name, null);
        const m = await driveChains(clients, admin, chains, BATCH);
        const s = await done();
        await Promise.all(clients.map((c) => c.end()));
        report(`${tag} sql`, m.count, m.seconds, s);
        if (args.functions) console.log(await functionReport(admin, m.count));
      }
      // HTTP with the claim in the completion's call (`next`), then the two-call loop.
      for (const claimNext of args.only === "sql" ? [] : [true, false]) {
        await prepare(admin, chains);
        const done = sampler(watch, db.name, server.pid);
        const m = await edgeflowHttpLoop(server.base, admin, {
          chains,
          workers: WORKERS,
          batch: BATCH,
        }, { claimNext });
        const s = await done();
        const st = m.stats;
        report(
          `${tag} http${claimNext ? " (next)" : " (two calls)"}`,
          m.steps,
          m.seconds,
          s,
          `\n  beats ${st.beats} (empty ${st.empty}), completes ${st.completes}, ` +
            `tasks per claim ${
              (m.steps / (st.beats - st.empty + (claimNext ? st.completes : 0))).toFixed(2)
            }, ` +
            `round trips per step ${((st.beats + st.completes) / m.steps).toFixed(2)}, ` +
            `mean ms: beat ${(st.beatMs / st.beats).toFixed(2)} complete ${
              (st.completeMs / Math.max(1, st.completes)).toFixed(2)
            }`,
        );
        if (args.functions) console.log(await functionReport(admin, m.steps));
      }
    }
  }
  void STEPS_PER_CHAIN;
} finally {
  await server.stop();
  await admin.end();
  await watch.end();
  await db.drop();
}
