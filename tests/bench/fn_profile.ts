/**
 * Where a step's SQL time goes, per function: one session drives pre-started
 * 3-step chains (tests/bench/engine_load.ts) with `track_functions = all`,
 * then prints pg_stat_user_functions per step — calls, self time (its own
 * statements) and total time (with what it calls). The figure behind
 * migration 0263: a one-entry complete_tasks spent 1.3 ms self against
 * complete_task's 0.7–0.8 ms total.
 *
 *   deno run -A tests/bench/fn_profile.ts [--batch 1] [--runs 300] [--next] [--rounds 2]
 *
 * DATABASE_URL names a server; the profile makes and drops a database of its
 * own. Times are Postgres's (milliseconds with three decimals), so a function
 * under ~1 µs per step shows as 0.
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { migrate, pgmqMode } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { analyzeState, CHAIN, driveChains, resetState, startRuns } from "./engine_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "1" },
    runs: { type: "string", default: "300" },
    rounds: { type: "string", default: "2" },
    next: { type: "boolean", default: false },
    top: { type: "string", default: "12" },
  },
});
const base = new URL(Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres");
const name = `ef_fnprof_${Date.now()}`;
const server = postgresSql(base.toString(), { max: 1 });
await server.exec(`create database ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const admin = postgresSql(url.toString(), { max: 1 });
const client = postgresSql(url.toString(), { max: 1 });
try {
  await migrate(admin, await loadMigrations(), { pgmq: pgmqMode(Deno.env.toObject()) });
  const flow = await registerFlow(admin, CHAIN);
  const runs = Number(values.runs), batch = Number(values.batch);
  for (let round = 1; round <= Number(values.rounds); round++) {
    await resetState(admin);
    await startRuns(admin, flow.id, runs);
    await analyzeState(admin);
    await admin`select pg_stat_reset()`;
    await client`set track_functions = 'all'`;
    const m = await driveChains([client], admin, runs, batch, { next: values.next });
    // A backend flushes its statistics at a transaction's end once a second
    // has passed since its last flush: wait that second, then end one.
    await new Promise((r) => setTimeout(r, 1100));
    await client`select 1`;
    await new Promise((r) => setTimeout(r, 200));
    const rows = await admin<{ f: string; calls: number; self: number; total: number }>`
      select schemaname || '.' || funcname as f, calls::int,
             self_time::float8 / ${m.count} * 1000 as self,
             total_time::float8 / ${m.count} * 1000 as total
        from pg_stat_user_functions order by self_time desc limit ${Number(values.top)}`;
    console.log(
      `\nround ${round}: batch ${batch}${values.next ? " with next" : ""}, ` +
        `${Math.round(m.perSecond)} steps/s; per step:`,
    );
    console.log(
      `${"function".padEnd(44)} ${"calls".padStart(6)} ${"self µs".padStart(8)} ${
        "total µs".padStart(9)
      }`,
    );
    for (const r of rows) {
      console.log(
        `${r.f.padEnd(44)} ${(r.calls / m.count).toFixed(2).padStart(6)} ` +
          `${r.self.toFixed(0).padStart(8)} ${r.total.toFixed(0).padStart(9)}`,
      );
    }
  }
} finally {
  await client.end();
  await admin.end();
  await server.exec(`drop database if exists ${name} with (force)`);
  await server.end();
}
