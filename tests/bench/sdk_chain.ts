/**
 * Steps/s of each SDK's worker on chains of 3 steps, side by side in one run:
 * the same served edgeflow (Postgres when DATABASE_URL is set, else PGlite),
 * the same trivial handler (`echo`), each SDK through its conformance adapter
 * (a process of its own, real HTTP). Runs are triggered before the worker
 * starts; the clock runs from its "started" line until every run is
 * COMPLETED. Rounds alternate the SDKs; each figure is the median.
 *
 *   deno run -A tests/bench/sdk_chain.ts [--runs 100] [--rounds 3] [--capacity 4]
 */
import { parseArgs } from "node:util";
import { ADAPTERS, spawnAdapter } from "../conformance/harness.ts";
import { serveEdgeflow } from "../conformance/server.ts";
import { databaseKinds } from "../support/db.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    capacity: { type: "string", default: "4" },
  },
});
const RUNS = Number(values.runs), ROUNDS = Number(values.rounds);
const CAPACITY = Number(values.capacity);

const kind = databaseKinds().at(-1)!;
const db = await kind.open();
const served = serveEdgeflow(db.sql, { heartbeatSeconds: 10, leaseSeconds: 30 });

async function must(method: string, path: string, body?: unknown) {
  const res = await served.call(method, path, body);
  if (res.status >= 300) {
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** One round: RUNS chains queued in a pool of their own, drained by one worker of `adapter`. */
async function round(adapter: (typeof ADAPTERS)[number], n: number): Promise<number> {
  const name = `bench-${adapter.name}-${n}`;
  await must("POST", "/deploy/pools", { name });
  await must("POST", "/register", {
    name,
    steps: [
      { slug: "a", handler: "echo" },
      { slug: "b", handler: "echo", depends_on: ["a"] },
      { slug: "c", handler: "echo", depends_on: ["b"] },
    ],
  });
  await must("POST", "/deploy", { name, flow: name, pool: name });
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i++) ids.push((await must("POST", `/trigger/${name}`, {})).run_id);
  const w = spawnAdapter(adapter, served.url, { pool: name, worker: name, capacity: CAPACITY });
  await w.event("the worker to start", (e) => e.event === "started", 60_000);
  const t0 = performance.now();
  for (;;) {
    const [row] = await db.sql<{ n: number }>`
      select count(*)::int as n from edgeflow.runs
       where id = any(${ids}::uuid[]) and status = 'COMPLETED'`;
    if (row.n === RUNS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = (performance.now() - t0) / 1000;
  w.signal("SIGTERM");
  await w.status;
  return (3 * RUNS) / elapsed;
}

const figures = new Map<string, number[]>();
for (let n = 0; n < ROUNDS; n++) {
  for (const adapter of ADAPTERS) {
    const stepsPerSecond = await round(adapter, n);
    figures.set(adapter.name, [...(figures.get(adapter.name) ?? []), stepsPerSecond]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ts = median(figures.get("typescript")!);
for (const [sdk, xs] of figures) {
  console.log(JSON.stringify({
    name: `sdk.chain.${sdk}`,
    steps_per_second: Math.round(median(xs)),
    rounds: xs.map(Math.round),
    ratio_to_typescript: Number((median(xs) / ts).toFixed(2)),
    runs: RUNS,
    capacity: CAPACITY,
    database: kind.name,
  }));
}
await served.close();
await db.close();
