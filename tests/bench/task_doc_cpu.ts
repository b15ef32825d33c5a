/**
 * Instructions per call of `edgeflow._tasks_json` (the task documents a claim
 * returns), for variants of it, under callgrind: the server runs under
 * `valgrind --tool=callgrind --callgrind-out-file=DIR/callgrind.out.%p`
 * (as for tests/bench/events_cpu.ts). A fresh database holds 50 runs of the
 * 3-step chain whose first steps completed; the documents measured are the 50
 * claimed tasks of step `b` (one dependency each). For each variant (a SQL
 * file that creates or replaces the function; list the current definition,
 * sql/functions/edgeflow._tasks_json.sql, to measure it too), two fresh
 * connections make 6 and 56 calls; the difference over 50 calls cancels
 * connection and plan start-up. Each variant's documents are checked against
 * the ones the database had before any variant (keys in any order).
 *
 *   deno run -A tests/bench/task_doc_cpu.ts --callgrind DIR [--blob 4000] [--rounds 2] FILE.sql…
 *
 * `--blob N`: the runs' parameters and the first steps' outputs carry a
 * string of N characters. Makes and drops `ef_doc_cpu_<random>` on the server
 * of DATABASE_URL.
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { claimTasks } from "../../shared/engine/tasks.ts";
import { completeTasks } from "../../shared/engine/batch.ts";
import { CHAIN, resetState, startRuns } from "./engine_load.ts";
import { callgrindInstructions, scratchDatabase, UNBOUNDED } from "./callgrind.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    callgrind: { type: "string" },
    blob: { type: "string", default: "0" },
    rounds: { type: "string", default: "2" },
  },
  allowPositionals: true,
});
const cgDir = args.values.callgrind;
if (!cgDir || args.positionals.length === 0) {
  console.error("usage: task_doc_cpu.ts --callgrind DIR [--blob N] [--rounds N] FILE.sql…");
  Deno.exit(2);
}
const RUNS = 50, SMALL = 6, BIG = 56;
const server = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const db = await scratchDatabase(server, "ef_doc_cpu");
const admin = db.admin;

function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
  }
  return x;
}

try {
  await migrate(admin, await loadMigrations());
  const flow = await registerFlow(admin, CHAIN);
  await resetState(admin);
  const blob = "x".repeat(Number(args.values.blob));
  if (blob) {
    await admin`
      select edgeflow.start_run(${flow.id}::uuid, jsonb_build_object('blob', ${blob}::text))
        from generate_series(1, ${RUNS}::int)`;
  } else await startRuns(admin, flow.id, RUNS);
  const first = await claimTasks(admin, "default", null, RUNS);
  await completeTasks(
    admin,
    first.map((t) => ({ task: t.task, lease: t.lease, output: { step: t.step, blob } })),
  );
  const ids = (await claimTasks(admin, "default", null, RUNS)).map((t) => t.task);
  if (ids.length !== RUNS) throw new Error(`claimed ${ids.length} of ${RUNS} tasks`);
  const [{ ref }] = await admin<{ ref: unknown }>`
    select edgeflow._tasks_json(${ids}::uuid[]) as ref`;
  const expected = JSON.stringify(sortKeys(ref));

  const calls = async (variant: string, k: number) => {
    const c = postgresSql(db.url, UNBOUNDED);
    const [{ pid }] = await c<{ pid: number }>`select pg_backend_pid() as pid`;
    for (let i = 0; i < k; i++) {
      const [{ r }] = await c<{ r: unknown }>`select edgeflow._tasks_json(${ids}::uuid[]) as r`;
      if (i === 0 && JSON.stringify(sortKeys(r)) !== expected) {
        throw new Error(`${variant}: its documents differ from the database's own`);
      }
    }
    await c.end();
    return await callgrindInstructions(cgDir, pid);
  };
  const samples = new Map<string, number[]>(args.positionals.map((v) => [v, []]));
  for (let round = 1; round <= Number(args.values.rounds); round++) {
    for (const v of args.positionals) {
      await admin.exec(await Deno.readTextFile(v));
      const perCall = (await calls(v, BIG) - await calls(v, SMALL)) / (BIG - SMALL);
      samples.get(v)!.push(perCall);
      console.error(`round ${round} ${v}: ${Math.round(perCall)} instructions per call`);
    }
  }
  for (const [v, s] of samples) {
    console.log(JSON.stringify({
      variant: v,
      documents: RUNS,
      blob: blob.length,
      instructions_per_call: s.map(Math.round),
    }));
  }
} finally {
  await db.close();
}
