/**
 * The loads the engine benchmark measures, each driven by N clients (one
 * connection each) through the same thin calls a worker makes:
 * - `pgmqCycles`: the raw pgmq baseline, `send` + `read` + `delete` of one
 *   message per cycle, three statements, three round trips;
 * - `driveChains`: pre-started runs of a 3-step chain, claimers looping
 *   claim → complete until every run is COMPLETED; with `next`, each call
 *   completes and claims the next tasks at once (complete_tasks_and_claim, as
 *   a worker's `POST /heartbeat/tasks/complete` with `next` does).
 */
import type { Sql } from "../../shared/db/sql.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { completeTasks, completeTasksAndClaim } from "../../shared/engine/batch.ts";
import { flowDef } from "../support/flows.ts";

/** The flow every chain run follows: a → b → c, one handler (and pgmq queue) per step. */
export const CHAIN = flowDef("bench_chain", [
  { slug: "a" },
  { slug: "b", depends_on: ["a"] },
  { slug: "c", depends_on: ["b"] },
]);
export const CHAIN_STEPS = CHAIN.steps.length;

export const BASELINE_QUEUE = "bench_baseline";

/** A lease outlives any measurement: no task is re-queued behind our back. */
const STALL_MS = 60_000;

export interface Measured {
  /** Steps completed, or pgmq cycles. */
  count: number;
  seconds: number;
  perSecond: number;
}

/** Every pgmq queue table the database holds (engine queues and the baseline's). */
async function queueTables(admin: Sql): Promise<string[]> {
  const rows = await admin<{ t: string }>`
    select 'pgmq.' || quote_ident(c.relname) as t
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'pgmq' and c.relkind = 'r' and c.relname ~ '^[aq]_'`;
  return rows.map((r) => r.t);
}

/** Empty the engine's run state and every queue, so each round starts alike. */
export async function resetState(admin: Sql): Promise<void> {
  const tables = ["edgeflow.runs", ...await queueTables(admin)];
  // Identifiers come from the catalog, quoted by quote_ident.
  await admin.exec(`truncate ${tables.join(", ")} cascade`);
}

/** Fresh planner statistics for what the next measurement reads. */
export async function analyzeState(admin: Sql): Promise<void> {
  const tables = [
    "edgeflow.runs",
    "edgeflow.tasks",
    "edgeflow.step_states",
    ...await queueTables(admin),
  ];
  await admin.exec(`analyze ${tables.join(", ")}`);
}

/**
 * Start `n` runs of the chain, 1,000 per statement (setup, not measured): 5,000
 * in one statement ran into the 15 s statement timeout on a loaded machine.
 */
export async function startRuns(admin: Sql, flowVersionId: string, n: number): Promise<void> {
  for (let left = n; left > 0; left -= 1000) {
    const k = Math.min(left, 1000);
    const [row] = await admin<{ started: number; refused: number }>`
      select count(*) filter (where not r ? 'error')::int as started,
             count(*) filter (where r ? 'error')::int as refused
        from (select edgeflow.start_run(${flowVersionId}::uuid, '{}'::jsonb) as r
                from generate_series(1, ${k}::int)) s`;
    if (row.started !== k) throw new Error(`start_run refused ${row.refused} of ${k} runs`);
  }
}

/**
 * Run `runs` pre-started chains to completion with every client claiming
 * `batch` tasks per call; one task per claim completes through
 * `complete_task`, a batch through `complete_tasks`. `next`: every call after
 * the first completes what the last brought and claims up to `batch` more
 * (`complete_tasks_and_claim`); a call that brought nothing claims again.
 */
export async function driveChains(
  clients: Sql[],
  admin: Sql,
  runs: number,
  batch: number,
  opts: { next?: boolean } = {},
): Promise<Measured> {
  const total = runs * CHAIN_STEPS;
  let done = 0;
  let lastProgress = performance.now();
  const started = performance.now();
  let finished = started;
  let failed = false;
  await Promise.all(clients.map(async (sql, i) => {
    try {
      await claimLoop(sql, `bench-${i}`);
    } catch (err) {
      failed = true; // the other claimers stop too
      throw err;
    }
  }));
  async function claimLoop(sql: Sql, worker: string) {
    let brought: Awaited<ReturnType<typeof claimTasks>> = [];
    while (done < total && !failed) {
      const tasks = brought.length
        ? brought
        : await claimTasks(sql, "default", null, batch, worker);
      brought = [];
      if (tasks.length === 0) {
        if (performance.now() - lastProgress > STALL_MS) {
          throw new Error(`stalled at ${done} of ${total} steps`);
        }
        continue;
      }
      let ok = 0;
      if (opts.next) {
        const { outcomes, next } = await completeTasksAndClaim(
          sql,
          tasks.map((t) => ({ task: t.task, lease: t.lease, output: { step: t.step } })),
          {
            worker,
            pool: "default",
            handlers: null,
            capacity: batch,
            caller: { id: null, admin: true },
            heartbeatSeconds: 10,
          },
        );
        ok = outcomes.filter((o) => "ok" in o).length;
        if ("error" in next) throw new Error(`the claim was refused: ${next.error}`);
        brought = next.tasks as typeof brought;
      } else if (batch === 1) {
        const [t] = tasks;
        const outcome = await completeTask(sql, t.task, t.lease, { step: t.step });
        if ("ok" in outcome) ok = 1;
      } else {
        const outcomes = await completeTasks(
          sql,
          tasks.map((t) => ({ task: t.task, lease: t.lease, output: { step: t.step } })),
        );
        ok = outcomes.filter((o) => "ok" in o).length;
      }
      if (ok !== tasks.length) throw new Error(`a completion was refused (${ok}/${tasks.length})`);
      done += ok;
      lastProgress = finished = performance.now();
    }
  }
  const [check] = await admin<{ completed: number }>`
    select count(*)::int as completed from edgeflow.runs where status = 'COMPLETED'`;
  if (check.completed !== runs) {
    throw new Error(`${check.completed} of ${runs} runs completed after ${done} steps`);
  }
  const seconds = (finished - started) / 1000;
  return { count: done, seconds, perSecond: done / seconds };
}

/** `send` + `read` + `delete` of one message per cycle, for `seconds`, on every client. */
export async function pgmqCycles(clients: Sql[], seconds: number): Promise<Measured> {
  const queue = BASELINE_QUEUE;
  // The shape of the engine's own messages.
  const msg = JSON.stringify({ task: crypto.randomUUID(), run: crypto.randomUUID() });
  let cycles = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(clients.map(async (sql) => {
    while (performance.now() < stopAt) {
      await sql`select pgmq.send(${queue}, ${msg}::text::jsonb)`;
      const [m] = await sql<{ id: string }>`
        select msg_id::text as id from pgmq.read(${queue}, 30, 1)`;
      // Every visible message is being read by another client: send again.
      if (!m) continue;
      await sql`select pgmq.delete(${queue}, ${m.id}::bigint)`;
      cycles++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  return { count: cycles, seconds: elapsed, perSecond: cycles / elapsed };
}
