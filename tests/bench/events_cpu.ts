/**
 * What the event log costs per step, in load-independent units: one
 * connection drives pre-started 3-step chains in claims of `--batch`
 * (`claim_tasks` → `complete_tasks`, as `engine.chain.batch50` does) and
 * the work of its Postgres backend is divided by the steps:
 * - default: CPU time (utime + stime from /proc/<pid>/stat; Postgres must run
 *   on this machine), the connection warmed up by a small load first;
 * - `--callgrind DIR`: instructions, with the server run under
 *   `valgrind --tool=callgrind --callgrind-out-file=DIR/callgrind.out.%p`.
 *   Each load gets a fresh connection, whose file callgrind writes when the
 *   backend exits; the figure is the difference between `--runs` runs and
 *   a warm-up of 50, so connection and plan-cache start-up cancel out.
 *   Deterministic to ~0.1 % between runs, where CPU time on the shared
 *   machine varied by 20 %.
 *
 * Variants interleave in every round: `on` (as migrated), `off` (the
 * `events_*` triggers disabled and `edgeflow.event_log = off`) and each SQL file given, applied before its
 * loads and before their connection opens (it must set up all it changes,
 * since the variants share one database: `create or replace` the trigger
 * functions, create or drop indexes, `alter database … set` a session
 * default; the events table is emptied before each).
 *
 *   deno run -A tests/bench/events_cpu.ts [--runs 1000] [--rounds 3] [--batch 50]
 *     [--callgrind DIR] [--warm 50] [FILE.sql…]
 *
 * `--warm N`: the smaller load's runs under callgrind. At 50 runs in batches
 * of 50 it makes 3 claims, fewer than the plan cache's 5 custom plans per
 * statement, so the difference still holds plan start-up: session 15 measured
 * `off` at 1.50 M instructions per step with 300 − 50 runs and 1.36 M with
 * 450 − 150. Compare figures taken with the same sizes only.
 *
 * Makes and drops its own database `ef_events_cpu_<random>` on the server of
 * DATABASE_URL.
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import {
  analyzeState,
  CHAIN,
  CHAIN_STEPS,
  driveChains,
  resetState,
  startRuns,
} from "./engine_load.ts";
import { callgrindInstructions, scratchDatabase, UNBOUNDED } from "./callgrind.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "50" },
    callgrind: { type: "string" },
    keep: { type: "boolean", default: false },
    // Runs of the smaller load whose work is subtracted (callgrind): past the
    // plan cache's five custom plans per statement, so that start-up cancels.
    warm: { type: "string", default: "50" },
  },
  allowPositionals: true,
});
const runs = Number(args.values.runs), rounds = Number(args.values.rounds);
const batch = Number(args.values.batch);
const cgDir = args.values.callgrind;
const WARM_RUNS = Number(args.values.warm);
// `on` and `off` come first unless named among the files.
const variants = args.positionals.some((v) => v === "on" || v === "off")
  ? args.positionals
  : ["on", "off", ...args.positionals];
const unit = cgDir ? "instructions" : "µs CPU";

const server = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const db = await scratchDatabase(server, "ef_events_cpu");
const admin = db.admin;

async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 1000 / 100; // USER_HZ
}

/** The server's WAL position in bytes (the load is the only writer between two reads). */
async function walLsn(): Promise<number> {
  const [{ b }] = await admin<{ b: string }>`
    select (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn)::text as b`;
  return Number(b);
}

async function eventTriggers(enabled: boolean) {
  const rows = await admin<{ tbl: string; name: string }>`
    select format('%I.%I', n.nspname, c.relname) as tbl, quote_ident(t.tgname) as name
      from pg_trigger t join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'edgeflow' and t.tgname like 'events\\_%' and not t.tgisinternal`;
  for (const r of rows) {
    await admin.exec(`alter table ${r.tbl} ${enabled ? "enable" : "disable"} trigger ${r.name}`);
  }
}

/** The variant's triggers and SQL, before its connection opens (a file may set database defaults). */
async function applyVariant(variant: string) {
  await eventTriggers(variant !== "off");
  if (variant !== "on" && variant !== "off") await admin.exec(await Deno.readTextFile(variant));
}

async function prepare(flowId: string, n: number) {
  await resetState(admin);
  await admin.exec("truncate edgeflow.events");
  await startRuns(admin, flowId, n);
  await analyzeState(admin);
}

/** Drive `n` runs on a fresh connection: its backend's work and the steps/s. */
async function load(variant: string, flowId: string, n: number, warm: boolean) {
  await applyVariant(variant);
  const client = postgresSql(db.url, UNBOUNDED);
  try {
    const [{ pid }] = await client<{ pid: number }>`select pg_backend_pid() as pid`;
    // With the triggers disabled, the rows the claim and completion write
    // themselves (sql/schema/80_events.sql) are off too.
    if (variant === "off") await client.exec("set edgeflow.event_log = off");
    if (!cgDir && warm) {
      await prepare(flowId, WARM_RUNS);
      await driveChains([client], admin, WARM_RUNS, batch);
    }
    await prepare(flowId, n);
    const before = cgDir ? 0 : await cpuMs(pid);
    const walBefore = await walLsn();
    const m = await driveChains([client], admin, n, batch);
    const wal = await walLsn() - walBefore;
    const [ev] = await admin<{ n: number }>`select count(*)::int as n from edgeflow.events`;
    const after = cgDir ? 0 : await cpuMs(pid);
    await client.end();
    return {
      work: cgDir ? await callgrindInstructions(cgDir!, pid) : (after - before) * 1000,
      m,
      wal,
      rows: ev.n,
    };
  } finally {
    await client.end();
  }
}

try {
  await migrate(admin, await loadMigrations());
  const flow = await registerFlow(admin, CHAIN);
  const samples = new Map<string, number[]>(variants.map((v) => [v, []]));
  const walSamples = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      let perStep: number;
      const big = await load(v, flow.id, runs, true);
      if (cgDir) {
        const small = await load(v, flow.id, WARM_RUNS, false);
        perStep = (big.work - small.work) / ((runs - WARM_RUNS) * CHAIN_STEPS);
      } else {
        perStep = big.work / (runs * CHAIN_STEPS);
      }
      samples.get(v)!.push(perStep);
      walSamples.get(v)!.push(big.wal / (runs * CHAIN_STEPS));
      console.error(
        `round ${round} ${v}: ${perStep.toFixed(1)} ${unit}/step, ` +
          `${Math.round(big.m.perSecond)} steps/s, ` +
          `${(big.rows / (runs * CHAIN_STEPS)).toFixed(2)} event rows/step, ` +
          `${Math.round(big.wal / (runs * CHAIN_STEPS))} WAL bytes/step`,
      );
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const off = med(samples.get("off")!);
  for (const v of variants) {
    const s = samples.get(v)!;
    console.log(JSON.stringify({
      variant: v,
      [cgDir ? "instructions_per_step" : "us_per_step"]: Number(med(s).toFixed(1)),
      over_off: Number((med(s) / off - 1).toFixed(3)),
      samples: s.map((x) => Number(x.toFixed(1))),
      wal_bytes_per_step: Math.round(med(walSamples.get(v)!)),
    }));
  }
} finally {
  if (args.values.keep) console.error(`kept ${db.name}`);
  await db.close(args.values.keep);
}
