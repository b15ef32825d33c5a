/**
 * The Celery bridge's overhead per task: a chain of N steps run twice on one
 * served edgeflow, once by TypeScript handlers in the worker, once sent to
 * a real Celery worker (solo pool) through `--celery`. The difference per
 * step is what the bridge adds: LPUSH, Celery's BRPOP and bookkeeping, the
 * result SET + PUBLISH, our SUBSCRIBE round trip.
 *
 *   deno run -A tests/bench/celery_bridge.ts [steps=50]
 */
import { databaseKinds } from "../support/db.ts";
import { serveApp } from "../cli/harness.ts";
import {
  api,
  FIXTURES,
  flushRedis,
  runReaches,
  startProcess,
  startWorker,
  waitFor,
} from "../executors/helpers.ts";

import { parseRedisUrl, RedisConnection } from "../../shared/celery/resp.ts";
import { resultKey, taskEnvelope } from "../../shared/celery/message.ts";
import { denoConnect } from "../../shared/runtime/tcp.ts";

const N = Number(Deno.args[0] ?? 50);
const REDIS = "redis://127.0.0.1:6379/14";
const db = await databaseKinds()[0].open(); // PGlite
const server = serveApp(db);
const steps = (handler: string) =>
  Array.from({ length: N }, (_, i) => ({
    slug: `s${i}`,
    handler,
    args: { i },
    ...(i ? { depends_on: [`s${i - 1}`] } : {}),
  }));
await api(server, "POST", "/register", { name: "ts-chain", steps: steps("bench.ts_noop") });
await api(server, "POST", "/register", { name: "celery-chain", steps: steps("bench.noop") });

async function timeRun(flow: string): Promise<number> {
  const t0 = performance.now();
  const run = (await api(server, "POST", `/trigger/flows/${flow}`, {})).body;
  const done = await runReaches(server, run.run_id, ["COMPLETED", "FAILED"], 300_000);
  if (done.status !== "COMPLETED") throw new Error(JSON.stringify(done.steps.slice(0, 2)));
  return (performance.now() - t0) / N;
}

const dir = await Deno.makeTempDir();
await Deno.writeTextFile(
  `${dir}/h.ts`,
  `export const bench = { ts_noop: (ctx) => ctx.input.args.i };`,
);
const ts = startWorker(server, ["--pool", "default", `${dir}/h.ts`]);
await waitFor("ts worker", () => Promise.resolve(/polling/.test(ts.output()) || undefined));
await timeRun("ts-chain"); // warm-up
const tsMs = Math.min(await timeRun("ts-chain"), await timeRun("ts-chain"));
await ts.stop();

await flushRedis(REDIS);
const celery = startProcess("/usr/bin/python3", [
  "-m",
  "celery",
  "-A",
  "grepx_tasks",
  "worker",
  "--pool",
  "solo",
  "-Q",
  "celery",
  "--without-heartbeat",
  "--without-gossip",
  "--without-mingle",
  "-l",
  "warning",
], { cwd: FIXTURES, env: { EDGEFLOW_TEST_REDIS: REDIS, EDGEFLOW_TEST_DIR: dir } });
const bridge = startWorker(server, [
  "--pool",
  "default",
  "--celery",
  REDIS,
  "--handlers",
  "bench.noop",
]);
await waitFor("bridge worker", () => Promise.resolve(/polling/.test(bridge.output()) || undefined));
await timeRun("celery-chain"); // warm-up (Celery imports lazily)
const celeryMs = Math.min(await timeRun("celery-chain"), await timeRun("celery-chain"));
const bridgeLog = (await bridge.stop()).stderr;
const celeryMsOf = [...bridgeLog.matchAll(/celery task SUCCESS .*celery_ms=(\d+)/g)].map((m) =>
  Number(m[1])
);
const inHandler = celeryMsOf.slice(-N).reduce((a, b) => a + b, 0) / Math.min(N, celeryMsOf.length);

// The same Celery round trip without edgeflow: LPUSH, wait for the PUBLISHed result.
const send = await RedisConnection.open(denoConnect, parseRedisUrl(REDIS));
const sub = await RedisConnection.open(denoConnect, parseRedisUrl(REDIS));
let direct = Infinity;
for (let round = 0; round < 2; round++) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const id = crypto.randomUUID();
    const got = new Promise<void>((resolve) => (sub.onMessage = (_c, d) => {
      if (JSON.parse(d).status === "SUCCESS") resolve();
    }));
    await sub.command("SUBSCRIBE", resultKey(id));
    await send.command(
      "LPUSH",
      "celery",
      taskEnvelope({
        task: "bench.noop",
        id,
        kwargs: { i },
        queue: "celery",
        origin: "bench",
      }),
    );
    await got;
    await sub.command("UNSUBSCRIBE", resultKey(id));
  }
  direct = Math.min(direct, (performance.now() - t0) / N);
}
send.close();
sub.close();
await celery.stop();
await server.close();
await db.close();
await Deno.remove(dir, { recursive: true });
console.log(
  `chain of ${N}: ${tsMs.toFixed(1)} ms/step with TS handlers, ${celeryMs.toFixed(1)} ms/step ` +
    `through Celery: the bridge adds ${
      (celeryMs - tsMs).toFixed(1)
    } ms per Celery task, of which ` +
    `${
      direct.toFixed(1)
    } ms is Celery's own round trip (LPUSH to PUBLISHed result, no edgeflow); ` +
    `the bridge waited ${inHandler.toFixed(1)} ms per task from LPUSH to result`,
);
Deno.exit(0);
