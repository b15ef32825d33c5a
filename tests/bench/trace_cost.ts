/**
 * What the task document's `trace` (edgeflow.trace_context, issue 15) costs a claim:
 * `edgeflow.claim_tasks` of 50 tasks with the current `_tasks_json`, alternating (each first in every other round) with a copy
 * of it that leaves `trace` out, 15 claims each, medians. A stand-alone script on a migrated
 * scratch database (it seeds 1,500 runs there):
 *
 *   DATABASE_URL=postgres://…/scratch deno task migrate
 *   DATABASE_URL=postgres://…/scratch deno run -A tests/bench/trace_cost.ts
 *
 * Figures (docs/tracing.md): median 1.03 × over 5 runs on the shared 2-core machine (noise:
 * 0.95 to 1.28 ×).
 */
import { postgresSql } from "../../shared/db/postgres.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { flowDef } from "../support/flows.ts";

const url = Deno.env.get("DATABASE_URL");
if (!url) throw new Error("DATABASE_URL: a migrated scratch database");
const sql = postgresSql(url, { max: 1, statementTimeoutMs: 0 });
const ROUNDS = 15;
const N = 50;
try {
  // A scratch database: what an earlier run left (runs, queued messages) goes first.
  await sql.exec(`truncate edgeflow.runs, edgeflow.workers cascade;
                  select pgmq.purge_queue(queue_name) from pgmq.list_queues()`);
  const flow = await registerFlow(sql, flowDef("trace_cost", [{ slug: "s", handler: "tc.s" }]));
  await sql.exec(`select edgeflow.start_run('${flow.id}'::uuid, '{}', '{}')
                    from generate_series(1, ${ROUNDS * 2 * N})`);
  await sql.exec("vacuum analyze");
  const [{ def }] = await sql<{ def: string }>`
    select pg_get_functiondef('edgeflow._tasks_json(uuid[])'::regprocedure) as def`;
  // The document without its `trace` key: the column of the row it is built from.
  const plain = def.replace(/\n\s*edgeflow\.trace_context\([^\n]*\) as trace,\n/, "\n");
  if (plain.includes("trace_context")) throw new Error("_tasks_json changed: update the script");
  const claim = async () => {
    const t0 = performance.now();
    const [{ n }] = await sql<{ n: number }>`
      select json_array_length(edgeflow.claim_tasks('default', '["tc.s"]', ${N}::int, 'w')) as n`;
    const ms = performance.now() - t0;
    if (n !== N) throw new Error(`claimed ${n} of ${N}`);
    return ms;
  };
  const withTrace: number[] = [];
  const without: number[] = [];
  try {
    // Which goes first alternates: the first claim of a round found the other's cache warm.
    for (let r = 0; r < ROUNDS; r++) {
      for (const traced of r % 2 ? [false, true] : [true, false]) {
        await sql.exec(traced ? def : plain);
        (traced ? withTrace : without).push(await claim());
      }
    }
  } finally {
    await sql.exec(def);
  }
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
  const a = median(withTrace);
  const b = median(without);
  console.log(JSON.stringify({
    bench: "claim50.trace",
    with_trace_ms: +a.toFixed(2),
    without_ms: +b.toFixed(2),
    ratio: +(a / b).toFixed(3),
  }));
} finally {
  await sql.end();
}
