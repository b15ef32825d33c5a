/** `heartbeat`: the worker protocol (heartbeat + claim, complete, fail) and workers. */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { clientSignal, readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { CompleteBody, FailBody, HeartbeatBody, uuidParam } from "../api/schemas.ts";
import {
  claimTasks,
  completeTask,
  failTask,
  handBackClaims,
  type ResultOutcome,
  suspendTask,
} from "../engine/tasks.ts";
import { SuspendBody } from "../api/event_schema.ts";
import type { Wakeups } from "./wakeups.ts";
import { type LongPoll, streamedLongPoll, waitForWork } from "./long_poll.ts";
import { refusal, resultBatchRoutes } from "./task_results.ts";
import { beatAnswer, beatAs, workerNameTaken } from "./worker_beat.ts";

/** Longest a heartbeat may wait for work (seconds): well inside any proxy's idle timeout. */
export const MAX_WAIT_SECONDS = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A lease we never issued cannot be current: refuse it like any stale one. */
function leaseOrStale(lease: string): string {
  if (!UUID.test(lease)) {
    throw ApiError.of("stale_lease", "this lease is not the task's current one");
  }
  return lease;
}

/** One entry of `GET /heartbeat/pools/:pool/queued`. */
export interface QueuedHandler {
  handler: string;
  queued: number;
  /** An online worker of the pool names this handler (or names none: all). */
  served: boolean;
}

/** `GET /heartbeat/runs/:run/job`: how to start a run's tasks outside the worker. */
export interface RunJob {
  run_id: string;
  flow: string;
  version: number;
  deployment: string | null;
  entrypoint: string | null;
  image: string | null;
  job_variables: Record<string, unknown>;
}

function refused(outcome: ResultOutcome, task: string): never {
  throw refusal(outcome, task);
}

export function heartbeatRoutes(deps: AppDeps, auth: Auth, wakeups: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("worker");

  app.post("/heartbeat", scope, async (c) => {
    const body = await readJsonAs(c, HeartbeatBody);
    const wait = Math.min(body.wait_seconds, deps.config.longPollMaxSeconds ?? MAX_WAIT_SECONDS);
    // A heartbeat that may claim watches its connection: a client that gave up
    // (killed, stopped, timed out) must not be leased tasks it never receives.
    const gone = body.capacity > 0 ? clientSignal(c) : undefined;
    const claimStarted = performance.now();
    const claimWall = deps.tracer && (deps.now?.() ?? new Date()).getTime();
    const beat = await beatAs(deps, c, {
      worker: body.worker,
      pool: body.pool,
      handlers: body.handlers ?? null,
      // A client that already left still keeps its leases, but is given nothing new.
      capacity: gone?.aborted ? 0 : body.capacity,
      // Leases we never issued are reported lost without a database lookup.
      running: body.running.filter((r) => UUID.test(r.lease)),
    });
    if ("error" in beat) throw workerNameTaken(body.worker);
    if (body.capacity > 0) deps.metrics?.claim.observe((performance.now() - claimStarted) / 1000);
    const result = beat;
    const foreign = body.running.filter((r) => !UUID.test(r.lease)).map((r) => r.task);
    const answer = (tasks: typeof result.tasks) => beatAnswer(deps, result, tasks, true, foreign);
    // Long poll: no work yet, and the worker is willing to wait for some.
    if (gone && wait > 0 && !result.tasks.length && !gone.aborted) {
      const poll: LongPoll = {
        seconds: wait,
        gone,
        wakeups,
        claim: async () => {
          const claimAt = performance.now();
          const tasks = await claimTasks(
            deps.sql(c),
            body.pool,
            body.handlers ?? null,
            body.capacity,
            body.worker,
          );
          deps.metrics?.claim.observe((performance.now() - claimAt) / 1000);
          if (deps.tracer) {
            deps.tracer.claimed(deps, c, tasks, (deps.now?.() ?? new Date()).getTime());
          }
          return tasks;
        },
        handBack: async (tasks) => {
          await handBackClaims(deps.sql(c), tasks.map((t) => ({ task: t.task, lease: t.lease })));
        },
      };
      if (deps.keepUntil) {
        return streamedLongPoll(
          poll,
          answer,
          (work) => deps.keepUntil!(c, work),
          (err) => deps.log("warn", "long poll ended early", { error: String(err) }),
        );
      }
      result.tasks = await waitForWork(poll);
    } else if (claimWall && !gone?.aborted) {
      deps.tracer!.claimed(deps, c, result.tasks, claimWall);
    } else if (gone?.aborted && result.tasks.length) {
      // The client left before its first claim was answered: give the tasks back.
      await handBackClaims(
        deps.sql(c),
        result.tasks.map((t) => ({ task: t.task, lease: t.lease })),
      );
      result.tasks = [];
    }
    return c.json(answer(result.tasks));
  });

  // Many results in one call (task_results.ts).
  app.route("/", resultBatchRoutes(deps, scope, wakeups));

  app.post("/heartbeat/tasks/:task/complete", scope, async (c) => {
    const task = uuidParam(c.req.param("task"), "task");
    const startMs = deps.tracer && (deps.now?.() ?? new Date()).getTime();
    const body = await readJsonAs(c, CompleteBody);
    const outcome = await completeTask(deps.sql(c), task, leaseOrStale(body.lease), body.output);
    if ("error" in outcome) refused(outcome, task);
    if (startMs) deps.tracer!.finished(deps, c, "complete", [task], startMs);
    wakeups.wake(); // its dependents may be ready now
    return c.json(outcome);
  });

  app.post("/heartbeat/tasks/:task/fail", scope, async (c) => {
    const task = uuidParam(c.req.param("task"), "task");
    const startMs = deps.tracer && (deps.now?.() ?? new Date()).getTime();
    const body = await readJsonAs(c, FailBody);
    const { retryable, ...error } = body.error;
    const outcome = await failTask(deps.sql(c), task, leaseOrStale(body.lease), error, retryable);
    if ("error" in outcome) refused(outcome, task);
    if (startMs) deps.tracer!.finished(deps, c, "fail", [task], startMs);
    return c.json(outcome);
  });

  // A handler's ctx.waitForEvent: the attempt ends suspended until the event (issue 16).
  app.post("/heartbeat/tasks/:task/suspend", scope, async (c) => {
    const task = uuidParam(c.req.param("task"), "task");
    const body = await readJsonAs(c, SuspendBody);
    const outcome = await suspendTask(deps.sql(c), task, leaseOrStale(body.lease), body.wait);
    if ("error" in outcome) {
      if (outcome.error === "not_suspendable") {
        throw refusalError(outcome.error, outcome.message, [{
          path: "wait.seq",
          message: outcome.message,
        }]);
      }
      refused(outcome, task);
    }
    if (outcome.resumed) wakeups.wake();
    return c.json(outcome);
  });

  // What a starting worker checks against its handler list: queued tasks of
  // the pool by handler, and whether an online worker serves each.
  app.get("/heartbeat/pools/:pool/queued", scope, async (c) => {
    const pool = c.req.param("pool");
    const [row] = await deps.sql(c)<{ known: boolean; handlers: QueuedHandler[] }>`
      select exists (select 1 from edgeflow.pools where name = ${pool}) as known,
             edgeflow.pool_queued_handlers(${pool}) as handlers`;
    if (!row.known) throw ApiError.of("not_found", `no pool named ${pool}`);
    return c.json({ pool, handlers: row.handlers });
  });

  // What an executor needs to start a task's container or process (issue 14):
  // the deployment's job variables and the flow's entrypoint and image.
  app.get("/heartbeat/runs/:run/job", scope, async (c) => {
    const run = uuidParam(c.req.param("run"), "run");
    const [row] = await deps.sql(c)<RunJob[]>`
      select r.id::text as run_id, r.flow_name as flow, r.version, d.name as deployment,
             fv.definition->>'entrypoint' as entrypoint, fv.definition->>'image' as image,
             coalesce(d.job_variables, '{}'::jsonb) as job_variables
        from edgeflow.runs r
        join edgeflow.flow_versions fv on fv.id = r.flow_version_id
        left join edgeflow.deployments d on d.id = r.deployment_id
       where r.id = ${run}::uuid`;
    if (!row) throw ApiError.of("not_found", `no run ${run}`);
    return c.json({ ...row });
  });

  app.get("/heartbeat/workers", scope, async (c) => {
    const rows = await deps.sql(c)<Record<string, unknown>>`
      select name, pool, handlers, capacity, heartbeat_seconds,
             edgeflow.iso(first_heartbeat_at) as first_heartbeat_at,
             edgeflow.iso(last_heartbeat_at) as last_heartbeat_at,
             case when last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * heartbeat_seconds)
                  then 'ONLINE' else 'OFFLINE' end as status
        from edgeflow.workers order by last_heartbeat_at desc limit 1000`;
    return c.json({ workers: rows.map((r) => ({ ...r })) });
  });

  return app;
}
