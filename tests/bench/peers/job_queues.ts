/**
 * The job queues our users would otherwise pick, each doing the chain the
 * way its own docs would: a job that, when done, adds the next one.
 * - graphile-worker 0.18: one runner, `concurrency` = workers, LISTEN/NOTIFY
 *   wake-ups (its default), task `a` adds `b` through `helpers.addJob`, `b`
 *   adds `c`; jobs are deleted on success.
 * - pg-boss 12: three queues, `work` with `batchSize` and `localConcurrency`
 *   = workers; each handler inserts the batch's next jobs with one
 *   `insert`. Its polling interval cannot go below 0.5 s (its own limit).
 */
import { makeWorkerUtils, run } from "graphile-worker";
import { PgBoss } from "pg-boss";
import {
  type Peer,
  progressGate,
  result,
  scratchDatabase,
  STEPS_PER_CHAIN,
  type Workload,
} from "./workload.ts";

type Db = { url: string; drop(): Promise<void> };

const silent = () => () => {};

export function graphileWorkerPeer(serverUrl: string): Peer {
  let db: Db | undefined;
  return {
    name: "graphile-worker 0.18",
    cycle: "run({ concurrency }) with task a → addJob(b) → addJob(c)",
    unavailable: () => Promise.resolve(null),
    async setup() {
      db = await scratchDatabase(serverUrl, "bench_gw");
      const utils = await makeWorkerUtils({ connectionString: db.url });
      try {
        await utils.migrate();
      } finally {
        await utils.release();
      }
    },
    async measure(w: Workload) {
      const utils = await makeWorkerUtils({ connectionString: db!.url });
      try {
        await utils.withPgClient((c) =>
          c.query(
            `select count(*) from graphile_worker.add_jobs(array(
               select json_populate_record(null::graphile_worker.job_spec,
                 json_build_object('identifier', 'a', 'payload', json_build_object('i', i)))
                 from generate_series(1, $1::int) i))`,
            [w.chains],
          )
        );
      } finally {
        await utils.release();
      }
      const gate = progressGate(w.chains * STEPS_PER_CHAIN);
      let t1 = 0;
      const step = () => {
        gate.add(1);
        t1 = performance.now();
      };
      const t0 = performance.now();
      const runner = await run({
        connectionString: db!.url,
        concurrency: w.workers,
        noHandleSignals: true,
        pollInterval: 100,
        logger: new (await import("graphile-worker")).Logger(silent),
        taskList: {
          a: async (payload, helpers) => {
            await helpers.addJob("b", payload as Record<string, unknown>);
            step();
          },
          b: async (payload, helpers) => {
            await helpers.addJob("c", payload as Record<string, unknown>);
            step();
          },
          c: () => {
            step();
            return Promise.resolve();
          },
        },
      });
      try {
        await gate.finished;
      } finally {
        await runner.stop();
      }
      return result(gate.count, t0, t1);
    },
    async close() {
      await db?.drop();
    },
  };
}

export function pgBossPeer(serverUrl: string): Peer {
  let db: Db | undefined;
  return {
    name: "pg-boss 12",
    cycle: "work(batchSize, localConcurrency) per queue; a handler inserts the next jobs",
    unavailable: () => Promise.resolve(null),
    async setup() {
      db = await scratchDatabase(serverUrl, "bench_boss");
    },
    async measure(w: Workload) {
      const boss = new PgBoss({ connectionString: db!.url, max: w.workers + 2 });
      boss.on("error", () => {});
      await boss.start();
      for (const q of ["a", "b", "c"]) {
        await boss.createQueue(q).catch(() => {});
        await boss.deleteAllJobs?.(q).catch(() => {});
      }
      await boss.insert("a", Array.from({ length: w.chains }, (_, i) => ({ data: { i } })));
      const gate = progressGate(w.chains * STEPS_PER_CHAIN);
      let t1 = 0;
      const opts = { batchSize: w.batch, pollingIntervalSeconds: 0.5, localConcurrency: w.workers };
      // deno-lint-ignore no-explicit-any
      const next = (queue: string | null) => async (jobs: any[]) => {
        if (queue) await boss.insert(queue, jobs.map((j) => ({ data: j.data })));
        gate.add(jobs.length);
        t1 = performance.now();
      };
      const t0 = performance.now();
      await boss.work("a", opts, next("b"));
      await boss.work("b", opts, next("c"));
      await boss.work("c", opts, next(null));
      try {
        await gate.finished;
      } finally {
        await boss.stop({ graceful: false });
      }
      return result(gate.count, t0, t1);
    },
    async close() {
      await db?.drop();
    },
  };
}
