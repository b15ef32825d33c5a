// deno-lint-ignore-file no-explicit-any
/**
 * The Celery bridge against a real Celery 5 worker (Debian's python3-celery)
 * on the machine's real Redis: grepx's pipeline imported from its YAML runs
 * unchanged, a failing Celery task is retried by edgeflow, a cancel revokes.
 * Each test has its own Redis database and Celery worker.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { CLIENT_NAME } from "../../shared/celery/bridge.ts";
import { parseRedisUrl, RedisConnection } from "../../shared/celery/resp.ts";
import { denoConnect } from "../../shared/runtime/tcp.ts";
import { serveApp } from "../cli/harness.ts";
import {
  api,
  FIXTURES,
  flushRedis,
  redisGet,
  runReaches,
  startProcess,
  startWorker,
  waitFor,
  works,
} from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const HAVE_CELERY = works(PYTHON, ["-c", "import celery, redis"]);
if (!HAVE_CELERY) {
  console.warn(
    "SKIPPED celery_test: /usr/bin/python3 lacks celery/redis " +
      "(apt-get install -y python3-celery python3-redis)",
  );
}

/** A Celery worker on Redis db `db`, started in the fixtures folder; resolves once it is ready. */
async function celeryWorker(db: number) {
  const redis = `redis://127.0.0.1:6379/${db}`;
  await flushRedis(redis);
  const scratch = await Deno.makeTempDir();
  const proc = startProcess(PYTHON, [
    "-m",
    "celery",
    "-A",
    "grepx_tasks",
    "worker",
    "--pool",
    "prefork",
    "-c",
    "2",
    "-Q",
    "celery",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "-n",
    `edgeflow-test-${db}@%h`,
    "-l",
    "info",
  ], { cwd: FIXTURES, env: { EDGEFLOW_TEST_REDIS: redis, EDGEFLOW_TEST_DIR: scratch } });
  await waitFor(
    "the celery worker to be ready",
    () => Promise.resolve(/ready\./.test(proc.output()) ? true : undefined),
  );
  return {
    redis,
    scratch,
    output: proc.output,
    async stop() {
      await proc.stop();
      await Deno.remove(scratch, { recursive: true });
    },
  };
}

/** Kills the bridge's Redis connections (by their CLIENT SETNAME); returns how many. */
async function killBridgeConnections(): Promise<number> {
  const c = await RedisConnection.open(denoConnect, parseRedisUrl("redis://127.0.0.1:6379"));
  try {
    const list = String(await c.command("CLIENT", "LIST"));
    const ids = [...list.matchAll(/^id=(\d+) .* name=(\S+)/gm)]
      .filter((m) => m[2] === CLIENT_NAME).map((m) => m[1]);
    for (const id of ids) await c.command("CLIENT", "KILL", "ID", id);
    return ids.length;
  } finally {
    c.close();
  }
}

const test = (name: string, fn: (db: any) => Promise<void>) =>
  HAVE_CELERY ? dbTest(name, fn, { only: "pglite" }) : Deno.test({ name, ignore: true, fn() {} });

test("grepx's pipeline from its YAML runs on a real Celery worker to COMPLETED", async (db) => {
  const server = serveApp(db);
  const celery = await celeryWorker(11);
  try {
    const imported = await server.cli(["import", "yaml", "examples/grepx/stock_pipeline.yaml"]);
    assert.equal(imported.code, 0, imported.stderr);
    const worker = startWorker(server, [
      "--pool",
      "default-process-pool",
      "--celery",
      celery.redis,
      "--celery-pass-input",
      "--capacity",
      "2",
    ]);
    try {
      await waitFor(
        "the worker",
        () => Promise.resolve(/polling/.test(worker.output()) || undefined),
      );
      const run = (await api(server, "POST", "/trigger/stock_data_pipeline_daily", {})).body;
      const done = await runReaches(server, run.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.equal(done.status, "COMPLETED", JSON.stringify(done.steps));
      const out = Object.fromEntries(done.steps.map((s: any) => [s.slug, s.output]));
      // The Celery results are the steps' outputs; the YAML's kwargs reached the tasks.
      assert.deepEqual(out.download_stock_data_task.ticker, "AAPL");
      assert.equal(out.download_stock_data_task.period, "1mo");
      assert.equal(out.download_stock_data_task.prices.length, 15);
      // …and the download's output reached the RSI task (--celery-pass-input).
      assert.deepEqual(out.calculate_indicators_task, { ticker: "AAPL", rsi: 100, points: 15 });
      assert.match(celery.output(), /Task data\.download_historical\[[0-9a-f-]+\] succeeded/);
    } finally {
      const stopped = await worker.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  } finally {
    await celery.stop();
    await server.close();
  }
});

const RETRY_YAML = `
prefect_work_pools:
  - name: celery-pool
prefect_flows:
  - name: flaky_pipeline
prefect_tasks:
  - name: first_fails
    flow_name: flaky_pipeline
    celery_task_name: flaky.fail_first
    task_kwargs: { name: "x" }
    retry_config: { max_retries: 2, retry_delay_seconds: 0 }
  - name: always_fails
    flow_name: flaky_pipeline
    celery_task_name: flaky.always
    depends_on: [first_fails]
    retry_config: { max_retries: 1, retry_delay_seconds: 0 }
prefect_deployments:
  - name: flaky
    flow_name: flaky_pipeline
    work_pool_name: celery-pool
`;

test("a failing Celery task is retried by edgeflow's policy; its exception fails the step", async (db) => {
  const server = serveApp(db);
  const celery = await celeryWorker(12);
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, RETRY_YAML);
    const imported = await server.cli(["import", "yaml", file]);
    assert.equal(imported.code, 0, imported.stderr);
    const worker = startWorker(server, ["--pool", "celery-pool", "--celery", celery.redis]);
    try {
      await waitFor(
        "the worker",
        () => Promise.resolve(/polling/.test(worker.output()) || undefined),
      );
      // Redis drops the bridge's connections (a restart, a blip): it connects again.
      assert.ok(await killBridgeConnections() >= 2);
      const run = (await api(server, "POST", "/trigger/flaky", {})).body;
      const done = await runReaches(server, run.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.equal(done.status, "FAILED");
      const steps = Object.fromEntries(done.steps.map((s: any) => [s.slug, s]));
      // Attempt 1 raised ValueError in Celery, attempt 2 succeeded.
      assert.equal(steps.first_fails.status, "COMPLETED");
      assert.equal(steps.first_fails.attempts, 2);
      assert.deepEqual(steps.first_fails.output, { name: "x", ok: true });
      // Both allowed attempts raised KeyError: the step fails with the type and traceback.
      assert.equal(steps.always_fails.status, "FAILED");
      assert.equal(steps.always_fails.attempts, 2);
      const error = steps.always_fails.error;
      assert.equal(error.type, "KeyError", JSON.stringify(error));
      assert.match(error.message, /celery task flaky\.always raised KeyError: no such ticker/);
      assert.match(error.stack, /Traceback \(most recent call last\)/);
    } finally {
      await worker.stop();
    }
  } finally {
    await Deno.remove(file);
    await celery.stop();
    await server.close();
  }
});

test("cancelling a run revokes its running Celery task", async (db) => {
  const server = serveApp(db);
  const celery = await celeryWorker(13);
  try {
    await api(server, "POST", "/register", {
      name: "slow",
      steps: [{ slug: "wait", handler: "slow.wait", args: { seconds: 120 }, max_attempts: 1 }],
    });
    const worker = startWorker(server, ["--pool", "default", "--celery", celery.redis]);
    try {
      const run = (await api(server, "POST", "/trigger/flows/slow", {})).body;
      await waitFor("the celery task to start", async () => {
        try {
          await Deno.stat(`${celery.scratch}/started`);
          return true;
        } catch {
          return undefined;
        }
      });
      const id = celery.output().match(/Task slow\.wait\[([0-9a-f-]+)\] received/)?.[1];
      assert.ok(id, celery.output());
      assert.equal((await api(server, "POST", `/trigger/runs/${run.run_id}/cancel`)).status, 202);
      // The revoke (terminate) killed the Celery child: the backend records REVOKED.
      const meta = await waitFor("the celery task to be revoked", async () => {
        const v = await redisGet(celery.redis, `celery-task-meta-${id}`);
        return v && JSON.parse(v).status === "REVOKED" ? JSON.parse(v) : undefined;
      });
      assert.equal(meta.status, "REVOKED");
      await assert.rejects(Deno.stat(`${celery.scratch}/finished`));
      // The worker reports nothing for a cancelled task: the run is CANCELLING
      // until the lease ends, then CANCELLED (worker_protocol_test.ts).
      const status = (await api(server, "GET", `/trigger/runs/${run.run_id}`)).body.status;
      assert.ok(["CANCELLING", "CANCELLED"].includes(status), status);
    } finally {
      await worker.stop();
    }
  } finally {
    await celery.stop();
    await server.close();
  }
});
