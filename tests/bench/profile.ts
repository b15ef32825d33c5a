/**
 * Where the engine's time goes, per step: one claimer drives 3-step chains
 * (one task per claim, then batches of 50) on a fresh database with
 * `track_functions = all`, then prints each SQL function's self time per
 * step and its share, and the row writes per step of the hot tables (how
 * many updates were HOT). Not part of `deno task bench`; run it after
 * changing the engine's SQL:
 *
 *   deno run -A tests/bench/profile.ts [--runs 1000] [--clients 1]
 *
 * With more clients, claims also read queues others emptied a moment ago
 * (see `pgmq.read` calls per step). `PROFILE_SET="name=value;…"` sets
 * parameters on the profiled database, e.g. `plan_cache_mode=force_generic_plan`
 * to see whether replanning is what a function spends (issue 12: it was not).
 *
 * Self time includes planning what a function plans on each call (dynamic
 * SQL, SQL-language functions that cannot be inlined), which is why it
 * exposes costs that EXPLAIN ANALYZE of the statements inside does not.
 * Needs a superuser (track_functions); DATABASE_URL picks the server.
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { createBenchDatabase } from "./bench_db.ts";
import {
  analyzeState,
  CHAIN,
  CHAIN_STEPS,
  driveChains,
  resetState,
  startRuns,
} from "./engine_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "1000" },
    clients: { type: "string", default: "1" },
  },
});
const runs = Number(values.runs);
const clientCount = Number(values.clients);
const server = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const db = await createBenchDatabase(server);
const admin = postgresSql(db.url, { max: 1 });
const pad = (s: string | number, n: number) => String(s).padStart(n);

try {
  // Our own database name; new connections pick the setting up.
  await admin.exec(`alter database "${db.name}" set track_functions = 'all'`);
  for (const s of (Deno.env.get("PROFILE_SET") ?? "").split(";").filter(Boolean)) {
    await admin.exec(`alter database "${db.name}" set ${s}`);
  }
  const flow = await registerFlow(admin, CHAIN);
  // Create the chain's pgmq queues before anything is counted.
  await startRuns(admin, flow.id, 1);
  await driveChains([admin], admin, 1, 1);
  for (const batch of [1, 50]) {
    await resetState(admin);
    await startRuns(admin, flow.id, runs);
    await analyzeState(admin);
    const clients = Array.from({ length: clientCount }, () => postgresSql(db.url, { max: 1 }));
    // Setup's own counts, still pending in this backend, are flushed before the reset.
    await admin`select pg_stat_force_next_flush()`;
    await admin`select 1`;
    await admin`select pg_stat_reset()`;
    const m = await driveChains(clients, admin, runs, batch);
    // A backend flushes its function statistics when it exits.
    await Promise.all(clients.map((c) => c.end()));
    await new Promise((r) => setTimeout(r, 500));
    const steps = runs * CHAIN_STEPS;
    const fns = await admin<{ fn: string; calls: number; self: number; total: number }>`
      select p.oid::regprocedure::text as fn, s.calls::int,
             s.self_time::float8 as self, s.total_time::float8 as total
        from pg_stat_user_functions s join pg_catalog.pg_proc p on p.oid = s.funcid
       where s.calls > 0 order by s.self_time desc`;
    const all = fns.reduce((acc, f) => acc + f.self, 0);
    console.log(
      `\nbatch ${batch}: ${steps} steps, ${clientCount} client(s), ${
        Math.round(m.perSecond)
      } steps/s; ` +
        `${Math.round(1000 * all / steps)} µs of SQL functions per step`,
    );
    console.log(
      `${"function".padEnd(64)} ${pad("calls/step", 10)} ${pad("self µs/step", 12)} ${
        pad("share", 6)
      } ${pad("total µs/call", 13)}`,
    );
    for (const f of fns) {
      console.log(
        `${f.fn.slice(0, 64).padEnd(64)} ${pad((f.calls / steps).toFixed(2), 10)} ` +
          `${pad((1000 * f.self / steps).toFixed(0), 12)} ${
            pad((100 * f.self / all).toFixed(0) + "%", 6)
          } ` +
          `${pad((1000 * f.total / f.calls).toFixed(0), 13)}`,
      );
    }
    const tables = await admin<{ t: string; ins: number; upd: number; hot: number; del: number }>`
      select schemaname || '.' || relname as t, n_tup_ins::int as ins, n_tup_upd::int as upd,
             n_tup_hot_upd::int as hot, n_tup_del::int as del
        from pg_stat_user_tables where n_tup_ins + n_tup_upd + n_tup_del > 0
       order by n_tup_ins + n_tup_upd + n_tup_del desc`;
    console.log(
      `${"table".padEnd(44)} ${pad("ins/step", 9)} ${pad("upd/step", 9)} ${pad("HOT", 5)} ${
        pad("del/step", 9)
      }`,
    );
    for (const t of tables) {
      console.log(
        `${t.t.padEnd(44)} ${pad((t.ins / steps).toFixed(2), 9)} ${
          pad((t.upd / steps).toFixed(2), 9)
        } ` +
          `${pad(t.upd ? (100 * t.hot / t.upd).toFixed(0) + "%" : "—", 5)} ${
            pad((t.del / steps).toFixed(2), 9)
          }`,
      );
    }
  }
} finally {
  await admin.end();
  await db.drop();
}
