/** `trigger`: start runs (deployment webhook, ad hoc), read, list, cancel, tick. */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Sql } from "../db/sql.ts";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs, readText } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { AdHocRunBody, RunsQuery, uuidParam } from "../api/schemas.ts";
import { DeploymentTriggerBody } from "../api/run_schema.ts";
import { assertValidParameters, mergeParameters } from "../api/params.ts";
import type { JsonSchema } from "../api/params.ts";
import { cancelRun, getRun, startRun, type StartRunResult } from "../engine/runs.ts";
import { resolveFlowVersion } from "../engine/flows.ts";
import { runTick } from "./tick.ts";
import type { Wakeups } from "./wakeups.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { triggerGuard } from "./trigger_guard.ts";
import type { DeploymentTarget } from "../engine/deployment_target.ts";
import { formatTraceparent, type RunTrace, runTraceFrom } from "../otel/traceparent.ts";

/** The run's trace context from the request's `traceparent`/`tracestate` (absent: a fresh trace). */
function requestTrace(c: Context): RunTrace {
  return runTraceFrom(c.req.header("traceparent"), c.req.header("tracestate"));
}

/**
 * The trigger's span (exported when a tracer is set), and the trace in the
 * answer's `traceparent` header so the caller can link to the run.
 */
function traced(
  deps: AppDeps,
  c: Context,
  trace: RunTrace,
  result: StartRunResult,
  name: string,
  startMs: number,
) {
  if (result.error !== undefined) return;
  c.header("traceparent", formatTraceparent(trace.trace_id, trace.span_id, trace.flags));
  if (!result.created) return;
  deps.tracer?.trigger(deps, c, {
    trace,
    runId: result.run_id,
    name,
    startMs,
    endMs: (deps.now?.() ?? new Date()).getTime(),
    attributes: { "edgeflow.flow": result.flow, "http.route": c.req.routePath },
  });
}

/** A `parent_task` must exist, and its run must leave room for one more level of nesting. */
async function assertParentTask(sql: Sql, task: string): Promise<void> {
  const [row] = await sql<{ depth: number; max: number }>`
    select edgeflow.run_depth(t.run_id) + 1 as depth, edgeflow.max_run_depth() as max
      from edgeflow.tasks t where t.id = ${task}::uuid`;
  if (!row) {
    throw ApiError.of("validation_failed", "the parent task cannot take this run", [
      { path: "parent_task", message: "no such task" },
    ]);
  }
  if (row.depth > row.max) {
    const message = `the run would be nested ${row.depth} deep, over the limit of ${row.max} ` +
      `(setting edgeflow.max_run_depth)`;
    throw ApiError.of("depth_exceeded", message, [{ path: "parent_task", message }]);
  }
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Idempotency-Key header and a hash of the exact request it came with. */
async function idempotency(c: Context, scope: string) {
  const key = c.req.header("Idempotency-Key");
  if (key === undefined) return {};
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw ApiError.of("bad_request", "Idempotency-Key must be 1-255 visible ASCII characters");
  }
  const raw = new TextEncoder().encode(`${c.req.path}\n${await readText(c)}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  const requestHash = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { idempotencyScope: scope, idempotencyKey: key, requestHash };
}

function started(c: Context, result: StartRunResult, extra: Record<string, unknown>) {
  switch (result.error) {
    case undefined:
      return c.json(
        { run_id: result.run_id, status: result.status, ...extra },
        result.created ? 201 : 200,
      );
    case "archived":
      throw refusalError(result.error, "the flow version is archived: no new runs start on it");
    case "idempotency_conflict":
      throw refusalError(
        result.error,
        "this Idempotency-Key was used with a different request",
      );
    case "unknown_pool":
      throw refusalError(result.error, "unknown pool", [
        { path: "pool", message: "no such pool" },
      ]);
    default:
      throw refusalError(result.error, "no such flow version");
  }
}

export function triggerRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("trigger");
  const guard = triggerGuard(deps);

  app.post("/trigger/tick", scope, async (c) => c.json(await runTick(deps, c)));

  app.get("/trigger/runs", scope, async (c) => {
    const q = RunsQuery.parse(c.req.query());
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    const [row] = await deps.sql(c)<{ runs: { id: string; cursor_at: string }[] }>`
      select edgeflow.list_runs(${q.status ?? null}, ${q.flow ?? null}, ${q.deployment ?? null},
                                ${q.limit + 1}::int, ${cursor?.at ?? null}::timestamptz,
                                ${cursor?.id ?? null}::uuid) as runs`;
    const page = row.runs.slice(0, q.limit);
    const last = page[page.length - 1];
    const next = row.runs.length > q.limit && last ? encodeCursor(last.cursor_at, last.id) : null;
    return c.json({
      runs: page.map(({ cursor_at: _, ...run }) => run),
      next_cursor: next,
    });
  });

  app.get("/trigger/runs/:id", scope, async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const run = await getRun(deps.sql(c), id);
    if (!run) throw ApiError.of("not_found", `no run ${id}`);
    return c.json(run);
  });

  app.post("/trigger/runs/:id/cancel", scope, async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const result = await cancelRun(deps.sql(c), id);
    if (result.error) throw ApiError.of("not_found", `no run ${id}`);
    return c.json(result, 202);
  });

  app.post("/trigger/flows/:flow", scope, guard.flow, async (c) => {
    const triggerStarted = performance.now();
    const startMs = (deps.now?.() ?? new Date()).getTime();
    const trace = requestTrace(c);
    const flow = c.req.param("flow");
    const body = await readJsonAs(c, AdHocRunBody);
    const sql = deps.sql(c);
    const pin = body.version === "latest" ? null : body.version;
    const version = await resolveFlowVersion(sql, flow, pin);
    if (!version) throw ApiError.of("not_found", `no flow ${flow}${pin ? ` version ${pin}` : ""}`);
    const [{ schema }] = await sql<{ schema: JsonSchema | null }>`
      select definition -> 'parameters' as schema from edgeflow.flow_versions
       where id = ${version.id}::uuid`;
    assertValidParameters(schema, body.parameters);
    const result = await startRun(sql, version.id, body.parameters, {
      pool: body.pool,
      tags: body.tags,
      trace,
      ...(await idempotency(c, `flow:${flow}`)),
    });
    traced(deps, c, trace, result, `trigger flow ${flow}`, startMs);
    if (result.error === undefined) {
      wakeups?.wake();
      deps.metrics?.trigger.observe((performance.now() - triggerStarted) / 1000);
    }
    return started(c, result, { deployment: null, flow, version: version.version });
  });

  app.post("/trigger/:deployment", scope, guard.deployment, async (c) => {
    const triggerStarted = performance.now();
    const startMs = (deps.now?.() ?? new Date()).getTime();
    const trace = requestTrace(c);
    const name = c.req.param("deployment");
    const body = await readJsonAs(c, DeploymentTriggerBody);
    const sql = deps.sql(c);
    const [row] = await sql<{ t: DeploymentTarget | null }>`
      select edgeflow.deployment_target(${name}) as t`;
    const target = row?.t;
    if (!target) throw ApiError.of("not_found", `no deployment named ${name}`);
    if (target.paused) throw ApiError.of("paused", `deployment ${name} is paused`);
    if (!target.version_id) {
      throw ApiError.of("not_found", `deployment ${name} has no flow version`);
    }
    const parameters = mergeParameters(target.parameters, body.parameters);
    assertValidParameters(target.schema, parameters);
    if (body.parent_task) await assertParentTask(sql, body.parent_task);
    const result = await startRun(sql, target.version_id, parameters, {
      parentTaskId: body.parent_task ?? null,
      deploymentId: target.id,
      pool: target.pool,
      queue: target.queue,
      tags: [...target.tags, ...body.tags],
      trace,
      ...(await idempotency(c, `deployment:${name}`)),
    });
    traced(deps, c, trace, result, `trigger ${name}`, startMs);
    if (result.error === undefined) {
      wakeups?.wake();
      deps.metrics?.trigger.observe((performance.now() - triggerStarted) / 1000);
    }
    return started(c, result, { deployment: name, flow: target.flow, version: target.version });
  });

  return app;
}
