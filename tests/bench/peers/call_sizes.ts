/**
 * What a call's size does to the peer workload through the SQL functions
 * (not a figure of the bench): 1,500 chains of 3, 8 connections, each
 * looping claims and completions of the sizes given, interleaved rounds on
 * one fresh database. It separates the two halves of a worker's cycle:
 * whether a claim of 40 or four claims of 10, a completion of 40 or four of
 * 10, is what moves steps/s (edgeflow.results_and_claims, its figure).
 *
 *   deno run -A tests/bench/peers/call_sizes.ts [--rounds 3] [--chains 1500]
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../../shared/db/postgres.ts";
import { claimTasks } from "../../../shared/engine/tasks.ts";
import { completeTasks } from "../../../shared/engine/batch.ts";
import { createBenchDatabase } from "../bench_db.ts";
import { prepare } from "./edgeflow.ts";
import { STEPS_PER_CHAIN } from "./workload.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    chains: { type: "string", default: "1500" },
  },
});
const CHAINS = Number(args.chains), WORKERS = 8;

/** A worker's cycle: `claims` claims of `claimQty`, then completions of `completeQty` each. */
const SHAPES = [
  { name: "claims of 10, completions of 10", claimQty: 10, claims: 1, completeQty: 10 },
  { name: "one claim of 40, completions of 10", claimQty: 40, claims: 1, completeQty: 10 },
  { name: "four claims of 10, one completion of 40", claimQty: 10, claims: 4, completeQty: 40 },
  { name: "one claim of 40, one completion of 40", claimQty: 40, claims: 1, completeQty: 40 },
];

const db = await createBenchDatabase(
  Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
);
const admin = postgresSql(db.url, { max: 1 });
const clients = Array.from({ length: WORKERS }, () => postgresSql(db.url, { max: 1 }));

async function round(shape: (typeof SHAPES)[number]): Promise<number> {
  await prepare(admin, CHAINS);
  const total = CHAINS * STEPS_PER_CHAIN;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(clients.map(async (sql, i) => {
    while (done < total) {
      const tasks = [];
      for (let k = 0; k < shape.claims; k++) {
        tasks.push(...await claimTasks(sql, "default", null, shape.claimQty, `w${i}`));
      }
      for (let j = 0; j < tasks.length; j += shape.completeQty) {
        const part = tasks.slice(j, j + shape.completeQty);
        const outcomes = await completeTasks(
          sql,
          part.map((t) => ({ task: t.task, lease: t.lease, output: { step: t.step } })),
        );
        done += outcomes.filter((o) => "ok" in o).length;
      }
    }
  }));
  return total / ((performance.now() - t0) / 1000);
}

try {
  const samples = new Map(SHAPES.map((s) => [s.name, [] as number[]]));
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const shape of SHAPES) {
      const v = await round(shape);
      samples.get(shape.name)!.push(v);
      console.log(`round ${r + 1} ${shape.name}: ${Math.round(v)} steps/s`);
    }
  }
  for (const [name, v] of samples) {
    const sorted = [...v].sort((a, b) => a - b);
    console.log(`median ${name}: ${Math.round(sorted[Math.floor(sorted.length / 2)])} steps/s`);
  }
} finally {
  await Promise.all(clients.map((c) => c.end()));
  await admin.end();
  await db.drop();
}
