/**
 * Where a step's SQL time goes, per function: one session drives pre-started
 * 3-step chains (tests/bench/engine_load.ts) with `track_functions = all`,
 * then prints pg_stat_user_functions per step — calls, self time (its own
 * statements) and total time (with what it calls). The figure behind
 * migration 0263: a one-entry complete_tasks spent 1.3 ms self against
 * complete_task's 0.7–0.8 ms total.
 *
 * `--statements`: per statement instead (pg_stat_statements with
 * `track = all`: every statement inside the functions and triggers, its
 * time per step with what it fires), the figure behind migration 0265. The
 * server must preload the module (`shared_preload_libraries =
 * 'pg_stat_statements'`, then a restart); the profile says so if it does not.
 * With `pg_stat_statements.track_planning = on` it also shows each
 * statement's planning time per step and plans per call: a static statement
 * that is planned on every call (1.00) keeps choosing its custom plan, the
 * figure behind migration 0272.
 * `--clients N` drives the chains from N sessions at once (times then include
 * waiting for the CPU and for locks).
 *
 *   deno run -A tests/bench/fn_profile.ts [--batch 1] [--runs 300] [--next] [--rounds 2]
 *                                          [--statements] [--clients 1] [--top 12]
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
    statements: { type: "boolean", default: false },
    clients: { type: "string", default: "1" },
  },
});
const base = new URL(Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres");
const name = `ef_fnprof_${Date.now()}`;
const server = postgresSql(base.toString(), { max: 1 });
await server.exec(`create database ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const admin = postgresSql(url.toString(), { max: 1 });
const clients = Array.from(
  { length: Math.max(1, Number(values.clients)) },
  () => postgresSql(url.toString(), { max: 1 }),
);
try {
  if (values.statements) {
    const [pre] = await admin<{ on: boolean }>`
      select 'pg_stat_statements' = any(string_to_array(
               replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as on`;
    if (!pre.on) {
      console.error(
        "--statements needs pg_stat_statements preloaded: add " +
          "shared_preload_libraries = 'pg_stat_statements' to the server's configuration " +
          "(e.g. /etc/postgresql/15/main/conf.d/) and restart it.",
      );
      Deno.exitCode = 2;
      throw new Error("pg_stat_statements is not preloaded");
    }
    await admin.exec(`create extension if not exists pg_stat_statements`);
  }
  await migrate(admin, await loadMigrations(), { pgmq: pgmqMode(Deno.env.toObject()) });
  const flow = await registerFlow(admin, CHAIN);
  const runs = Number(values.runs), batch = Number(values.batch);
  // Round 0 warms up (the handler queues are made on first use) and is not shown.
  for (let round = 0; round <= Number(values.rounds); round++) {
    await resetState(admin);
    await startRuns(admin, flow.id, runs);
    await analyzeState(admin);
    if (values.statements) {
      for (const c of clients) await c`set pg_stat_statements.track = 'all'`;
      await admin`select pg_stat_statements_reset()`;
    } else {
      await admin`select pg_stat_reset()`;
      for (const c of clients) await c`set track_functions = 'all'`;
    }
    const m = await driveChains(clients, admin, runs, batch, { next: values.next });
    // Flushed after every round, the warm-up's too: otherwise it lands in the
    // next round's counts, after that round's reset.
    if (!values.statements) await flushFunctionStats();
    if (round === 0) continue;
    const head = `\nround ${round}: batch ${batch}${values.next ? " with next" : ""}` +
      `${clients.length > 1 ? `, ${clients.length} sessions` : ""}, ` +
      `${Math.round(m.perSecond)} steps/s; per step:`;
    if (values.statements) {
      await printStatements(m.count, head);
      continue;
    }
    const rows = await admin<{ f: string; calls: number; self: number; total: number }>`
      select schemaname || '.' || funcname as f, calls::int,
             self_time::float8 / ${m.count} * 1000 as self,
             total_time::float8 / ${m.count} * 1000 as total
        from pg_stat_user_functions order by self_time desc limit ${Number(values.top)}`;
    console.log(head);
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
  for (const c of clients) await c.end();
  await admin.end();
  await server.exec(`drop database if exists ${name} with (force)`);
  await server.end();
}

/**
 * The statements of this database by total time, per step: T marks the call
 * a client sent; the others ran inside functions and triggers, and each one's
 * time includes what it fired (a statement trigger's insert is inside the
 * update that fired it, and also listed on its own).
 */
async function printStatements(steps: number, head: string): Promise<void> {
  const rows = await admin<
    {
      top: boolean;
      calls: number;
      us: number;
      plan: number;
      plans: number;
      rows: number;
      q: string;
    }
  >`
    select s.toplevel as top, s.calls::float8 / ${steps} as calls,
           s.total_exec_time * 1000 / ${steps} as us,
           s.total_plan_time * 1000 / ${steps} as plan,
           s.plans::float8 / greatest(s.calls, 1) as plans,
           s.rows::float8 / greatest(s.calls, 1) as rows,
           regexp_replace(s.query, '[[:space:]]+', ' ', 'g') as q
      from pg_stat_statements s
      join pg_catalog.pg_database d on d.oid = s.dbid
     where d.datname = current_database() and s.query not like '%pg_stat_statements%'
     order by s.total_exec_time desc limit ${Number(values.top)}`;
  console.log(head);
  console.log(
    `  ${"µs".padStart(7)} ${"plan µs".padStart(7)} ${"plans".padStart(5)} ${
      "calls".padStart(6)
    } ` +
      `${"rows".padStart(5)}  statement`,
  );
  for (const r of rows) {
    console.log(
      `${r.top ? "T" : " "} ${r.us.toFixed(1).padStart(7)} ${r.plan.toFixed(1).padStart(7)} ` +
        `${r.plans.toFixed(2).padStart(5)} ${r.calls.toFixed(3).padStart(6)} ` +
        `${r.rows.toFixed(1).padStart(5)}  ${r.q.slice(0, 110)}`,
    );
  }
}

/**
 * A backend flushes its function statistics at a transaction's end once a
 * second has passed since its last flush: wait that second, then end one in
 * every session.
 */
async function flushFunctionStats(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
  for (const c of clients) await c`select 1`;
  await new Promise((r) => setTimeout(r, 200));
}
