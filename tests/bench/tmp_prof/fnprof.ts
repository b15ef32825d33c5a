// Per-function self/total time (pg_stat_user_functions, track_functions=all) for claim1 vs claim1_next, one client.
import { postgresSql } from "/work/main/shared/db/postgres.ts";
import { registerFlow } from "/work/main/shared/engine/flows.ts";
import { analyzeState, CHAIN, driveChains, resetState, startRuns } from "/work/main/tests/bench/engine_load.ts";
const url = Deno.args[0];
const admin = postgresSql(url, { max: 1 });
const client = postgresSql(url, { max: 1, connection: { track_functions: "all" } } as any);
const flow = await registerFlow(admin, CHAIN);
const BATCH = Number(Deno.args[1] ?? 1); const RUNS = Number(Deno.args[2] ?? 400); const modes = (Deno.args[3] ?? "false,true").split(",").map((x) => x === "true");
for (const next of [...modes, ...modes]) {
  await resetState(admin);
  await startRuns(admin, flow.id, RUNS);
  await analyzeState(admin);
  await admin`select pg_stat_reset()`;
  await client`set track_functions = 'all'`;
  const m = await driveChains([client], admin, RUNS, BATCH, { next });
  await new Promise((r) => setTimeout(r, 800));
  await client`select pg_stat_force_next_flush()`.catch(() => {});
  await client`select 1`;
  await new Promise((r) => setTimeout(r, 1200));
  const rows = await admin<{ f: string; calls: number; self: number; total: number }>`
    select schemaname || '.' || funcname as f, calls::int, round(self_time::numeric / ${m.count}, 1)::float8 as self,
           round(total_time::numeric / ${m.count}, 1)::float8 as total
      from pg_stat_user_functions order by self_time desc limit 6`;
  console.log(`\n${next ? "claim1_next" : "claim1"}: ${Math.round(m.perSecond)} steps/s (µs... ms per step below)`);
  for (const r of rows) console.log(`${r.f.padEnd(44)} calls/step ${(r.calls / m.count).toFixed(2).padStart(5)} self ${String(r.self * 1000).padStart(6)} µs total ${String(r.total * 1000).padStart(6)} µs`);
}
await admin.end?.(); Deno.exit(0);
