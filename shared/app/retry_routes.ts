/**
 * `POST /trigger/runs/:id/retry {"from_step"?, "parameters"?}`: a FAILED,
 * CRASHED or CANCELLED run goes again as a new attempt of the same run
 * (edgeflow.retry_run, migration 0110): completed steps keep their outputs,
 * failed and cancelled steps are queued again, and `from_step` re-runs that
 * step and everything downstream. `parameters` are overlaid on the run's own
 * and checked against the flow's schema.
 *
 * Same run rather than a new linked one: Prefect's "Retry" keeps the flow
 * run and counts `run_count`, and a user who bookmarked the failed run, or a
 * parent waiting on it by id, finds it running again. The attempts of before
 * stay in the run's events, logs and timeline (task attempt numbers go on).
 */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import type { Sql } from "../db/sql.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { RetryBody, type RetryInput } from "../api/log_schema.ts";
import { uuidParam } from "../api/names.ts";
import { assertValidParameters, type JsonSchema, mergeParameters } from "../api/params.ts";
import type { Wakeups } from "./wakeups.ts";

/** What a retry did: the run's new status, its retry count and the steps queued again. */
export interface RetryResult {
  run_id: string;
  status: string;
  retries: number;
  steps: string[];
}

type RetryOutcome = RetryResult | {
  error:
    | "not_found"
    | "not_finished"
    | "unknown_step"
    | "subflow_child"
    | "limit_full"
    | "nothing_to_retry";
  status?: string;
  limit?: number;
};

/**
 * Retries run `runId`; throws the `ApiError` of a refusal (naming the field
 * at fault), in which case nothing changed.
 */
export async function retryRun(sql: Sql, runId: string, body: RetryInput): Promise<RetryResult> {
  let parameters: Record<string, unknown> | null = null;
  if (body.parameters) {
    const [run] = await sql<{ parameters: Record<string, unknown>; schema: JsonSchema | null }>`
      select r.parameters, fv.definition -> 'parameters' as schema
        from edgeflow.runs r join edgeflow.flow_versions fv on fv.id = r.flow_version_id
       where r.id = ${runId}::uuid`;
    if (!run) throw ApiError.of("not_found", `no run ${runId}`);
    parameters = mergeParameters(run.parameters, body.parameters);
    assertValidParameters(run.schema, parameters);
  }
  const [row] = await sql<{ r: RetryOutcome }>`
    select edgeflow.retry_run(${runId}::uuid, ${body.from_step ?? null}::text,
                              ${
    parameters === null ? null : JSON.stringify(parameters)
  }::text::jsonb) as r`;
  const r = row.r;
  if (!("error" in r)) return r;
  switch (r.error) {
    case "not_found":
      throw refusalError(r.error, `no run ${runId}`);
    case "not_finished":
      throw refusalError(
        r.error,
        `the run is ${r.status}: only a FAILED, CRASHED or CANCELLED run can be retried`,
        [{ path: "status", message: `is ${r.status}` }],
      );
    case "unknown_step":
      throw refusalError(r.error, `the flow has no step "${body.from_step}"`, [
        { path: "from_step", message: "is not a step of the run's flow version" },
      ]);
    case "subflow_child":
      throw refusalError(r.error, "this run is a subflow's child: retry its parent run", [
        { path: "run", message: "was started by a step of another run" },
      ]);
    case "limit_full":
      throw refusalError(
        r.error,
        `the deployment runs its limit of ${r.limit} run(s): retry when one has ended`,
        [{ path: "deployment", message: "has no free concurrency slot" }],
      );
    default:
      throw refusalError(r.error, "every step of the run completed: nothing to retry", [
        { path: "from_step", message: "name a step to re-run" },
      ]);
  }
}

/** The retry route (served by the `trigger` function). */
export function retryRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/trigger/runs/:id/retry", auth.requireScope("trigger"), async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const body = await readJsonAs(c, RetryBody);
    const result = await retryRun(deps.sql(c), id, body);
    wakeups?.wake(); // its tasks are queued: a waiting heartbeat may take them now
    return c.json(result, 202);
  });
  return app;
}
