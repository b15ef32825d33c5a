/**
 * edgeflow in the peer benchmark, on the benchmark's own migrated database:
 * - through its SQL functions: each worker its own connection, looping
 *   `edgeflow.claim_tasks` (up to `batch`) → `complete_task` /
 *   `complete_tasks` (engine_load.ts's `driveChains`);
 * - through its HTTP worker protocol: the server in a process of its own
 *   (http_server.ts), each worker sending its tasks' results in one
 *   `POST /heartbeat/tasks/complete` that claims its next tasks too
 *   (`next`), as the SDK does with results that finish within its batching
 *   window (shared/worker/result_batch.ts); a long-polling `POST /heartbeat`
 *   (capacity = batch) only when a call brought no work.
 */
import postgres from "postgres";
import { postgresSql } from "../../../shared/db/postgres.ts";
import { registerFlow } from "../../../shared/engine/flows.ts";
import type { Sql } from "../../../shared/db/sql.ts";
import { analyzeState, CHAIN, driveChains, resetState, startRuns } from "../engine_load.ts";
import {
  type Peer,
  type PeerResult,
  progressGate,
  result,
  STEPS_PER_CHAIN,
  type Workload,
} from "./workload.ts";

const KEY = `bench-${crypto.randomUUID()}`;

export async function prepare(admin: Sql, chains: number): Promise<void> {
  const flow = await registerFlow(admin, CHAIN);
  await resetState(admin);
  await startRuns(admin, flow.id, chains);
  await analyzeState(admin);
}

export function edgeflowSqlPeer(url: string): Peer {
  let admin: Sql | undefined;
  return {
    name: "edgeflow (SQL functions)",
    cycle: "claim_tasks → complete_task (complete_tasks for a batch)",
    unavailable: () => Promise.resolve(null),
    setup() {
      admin = postgresSql(url, { max: 1 });
      return Promise.resolve();
    },
    async measure(w: Workload) {
      await prepare(admin!, w.chains);
      const clients = Array.from({ length: w.workers }, () => postgresSql(url, { max: 1 }));
      try {
        const m = await driveChains(clients, admin!, w.chains, w.batch);
        return { steps: m.count, seconds: m.seconds, perSecond: m.perSecond };
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    },
    async close() {
      await admin?.end();
    },
  };
}

export interface BenchServer {
  base: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startServer(
  url: string,
  env: Record<string, string> = {},
): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./http_server.ts", import.meta.url).pathname],
    env: { DATABASE_URL: url, EDGEFLOW_ADMIN_KEY: KEY, ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the bench server exited: ${text}`);
    text += value;
  }
  const port = /listening (\d+)/.exec(text)![1];
  return {
    base: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

// deno-lint-ignore no-explicit-any
async function post(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * `grouped: false`: the server sends each result request in a call of its
 * own (EDGEFLOW_RESULT_CALLS=0), as it did before shared/app/result_groups.ts.
 */
export function edgeflowHttpPeer(url: string, opts: { grouped?: boolean } = {}): Peer {
  let admin: Sql | undefined;
  let server: BenchServer | undefined;
  const grouped = opts.grouped ?? true;
  return {
    name: grouped ? "edgeflow (HTTP worker protocol)" : "edgeflow (HTTP, ungrouped results)",
    cycle: "POST /heartbeat/tasks/complete (batched, with `next`: the claim in the same call); " +
      "POST /heartbeat (capacity, long poll) when a call brought no work",
    unavailable: () => Promise.resolve(null),
    async setup() {
      admin = postgresSql(url, { max: 1 });
      server = await startServer(url, grouped ? {} : { EDGEFLOW_RESULT_CALLS: "0" });
    },
    async measure(w: Workload) {
      await prepare(admin!, w.chains);
      return await edgeflowHttpLoop(server!.base, admin!, w);
    },
    async close() {
      await server?.stop();
      await admin?.end();
    },
  };
}

/** What the HTTP workers did: calls, claims that brought nothing, wall time in each call. */
export interface HttpLoopStats {
  beats: number;
  empty: number;
  completes: number;
  beatMs: number;
  completeMs: number;
}

/**
 * `w.workers` workers looping until every chain completed. Each sends its
 * batch's results with `next` (its claim in the same call) and heartbeats
 * (long poll) only when a call brought no work; `claimNext: false` is the
 * earlier loop, a heartbeat and a completion per batch.
 */
export async function edgeflowHttpLoop(
  base: string,
  admin: Sql,
  w: Workload,
  opts: { claimNext?: boolean } = {},
): Promise<PeerResult & { stats: HttpLoopStats }> {
  const claimNext = opts.claimNext ?? true;
  const stats: HttpLoopStats = { beats: 0, empty: 0, completes: 0, beatMs: 0, completeMs: 0 };
  const gate = progressGate(w.chains * STEPS_PER_CHAIN);
  const t0 = performance.now();
  let t1 = t0;
  const loops = Array.from({ length: w.workers }, async (_, i) => {
    const worker = { worker: `peer-${i}`, pool: "default" };
    // deno-lint-ignore no-explicit-any
    let tasks: any[] = [];
    while (!gate.done) {
      const b0 = performance.now();
      if (!tasks.length) {
        const beat = await post(`${base}/heartbeat`, {
          ...worker,
          capacity: w.batch,
          wait_seconds: 1,
        });
        stats.beats++;
        stats.beatMs += performance.now() - b0;
        tasks = beat.tasks;
        if (!tasks.length) {
          stats.empty++;
          continue;
        }
      }
      const b1 = performance.now();
      const done = await post(`${base}/heartbeat/tasks/complete`, {
        results: tasks.map((t) => ({
          task: t.task,
          lease: t.lease,
          output: { step: t.step },
        })),
        ...(claimNext ? { next: { ...worker, capacity: w.batch } } : {}),
      });
      stats.completes++;
      stats.completeMs += performance.now() - b1;
      // deno-lint-ignore no-explicit-any
      const refused = done.results.filter((r: any) => r.status !== 200);
      if (refused.length) throw new Error(`refused: ${JSON.stringify(refused[0])}`);
      gate.add(tasks.length);
      tasks = claimNext ? done.next.tasks : [];
      t1 = performance.now();
    }
  });
  Promise.all(loops).catch((e) => gate.fail(e));
  await gate.finished;
  await Promise.all(loops);
  const [check] = await admin<{ n: number }>`
    select count(*)::int as n from edgeflow.runs where status = 'COMPLETED'`;
  if (check.n !== w.chains) throw new Error(`edgeflow: ${check.n} of ${w.chains} completed`);
  return { ...result(gate.count, t0, t1), stats };
}

/** The raw pgmq baseline on the same database: send + read + delete of one message. */
export async function pgmqCycleRate(url: string, workers: number, seconds: number) {
  const clients = Array.from({ length: workers }, () => postgres(url, { max: 1 }));
  const queue = "bench_peers_baseline";
  await clients[0]`select pgmq.create(${queue})`;
  const msg = JSON.stringify({ task: crypto.randomUUID(), run: crypto.randomUUID() });
  let cycles = 0;
  const t0 = performance.now(), stopAt = t0 + seconds * 1000;
  try {
    await Promise.all(clients.map(async (sql) => {
      while (performance.now() < stopAt) {
        await sql`select pgmq.send(${queue}, ${msg}::jsonb)`;
        const [m] = await sql`select msg_id from pgmq.read(${queue}, 30, 1)`;
        if (!m) continue;
        await sql`select pgmq.delete(${queue}, ${m.msg_id}::bigint)`;
        cycles++;
      }
    }));
    return result(cycles, t0, performance.now());
  } finally {
    await clients[0]`select pgmq.drop_queue(${queue})`;
    await Promise.all(clients.map((c) => c.end()));
  }
}
