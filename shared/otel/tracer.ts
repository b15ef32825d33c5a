/**
 * The spans of a run (issue 15), built where the app already is and handed
 * to the exporter off the request path:
 *
 *   trigger <deployment|flow>      SERVER   child of the caller's traceparent, if any
 *   └─ task <flow>/<step> #n       CONSUMER one per attempt, from the attempt's times in the
 *      │                                    database (claim to result), id edgeflow.task_span_id
 *      ├─ claim <step>             SERVER   the heartbeat that leased it
 *      ├─ (the handler's own spans, continued from ctx.trace)
 *      └─ complete|fail <step>     SERVER   the request that reported the result
 *
 * A run started without a trigger span (a schedule, an event, a subflow
 * started in SQL) has the run id as trace id and its task spans are roots.
 * Absent (no OTEL_EXPORTER_OTLP_ENDPOINT) the app holds no tracer: each hook
 * is one `deps.tracer?.` test on the hot path, nothing else.
 */
import type { Context } from "hono";
import type { Sql } from "../db/sql.ts";
import type { AppDeps } from "../app/deps.ts";
import type { ClaimedTask } from "../api/claimed_task.ts";
import { type OtlpExporter, type SpanData, SpanKind } from "./otlp.ts";
import { parseTraceparent, randomHex, type RunTrace } from "./traceparent.ts";

/** What `trigger` needs to know of a started run. */
export interface TriggerSpan {
  trace: RunTrace;
  runId: string;
  /** The span's name, e.g. `trigger nightly` or `webhook github`. */
  name: string;
  startMs: number;
  endMs: number;
  attributes?: SpanData["attributes"];
}

interface AttemptRow {
  task: string;
  slug: string;
  attempt: number;
  status: string;
  worker: string | null;
  run_id: string;
  flow: string;
  trace_id: string;
  parent_id: string | null;
  tracestate: string | null;
  span_id: string;
  started_at: string | null;
  ended_at: string;
  error: string | null;
}

/** The attempt spans of `tasks` (their latest attempt), read after their results committed. */
async function attempts(sql: Sql, tasks: string[]): Promise<AttemptRow[]> {
  return await sql<AttemptRow>`
    select t.id::text as task, t.slug, t.attempts as attempt, t.status, t.worker,
           r.id::text as run_id, r.flow_name as flow,
           coalesce(r.trace ->> 'trace_id', replace(r.id::text, '-', '')) as trace_id,
           r.trace ->> 'span_id' as parent_id, r.trace ->> 'tracestate' as tracestate,
           edgeflow.task_span_id(t.id, t.attempts) as span_id,
           edgeflow.iso(t.started_at) as started_at,
           edgeflow.iso(coalesce(t.ended_at, edgeflow.now())) as ended_at,
           t.error ->> 'message' as error
      from edgeflow.tasks t join edgeflow.runs r on r.id = t.run_id
     where t.id = any(${tasks}::uuid[])`;
}

/** Builds a run's spans and queues them on the exporter. */
export class RunTracer {
  /** Span reads still running (their spans are not queued yet). */
  #reading = new Set<Promise<void>>();

  constructor(readonly exporter: OtlpExporter) {}

  /** Everything recorded so far, exported (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#reading]);
    await this.exporter.flush();
  }

  /** The trigger that created a run. */
  trigger(deps: AppDeps, c: Context, s: TriggerSpan): void {
    this.#send(deps, c, [{
      traceId: s.trace.trace_id,
      spanId: s.trace.span_id,
      parentSpanId: s.trace.parent_id,
      traceState: s.trace.tracestate,
      name: s.name,
      kind: SpanKind.SERVER,
      startMs: s.startMs,
      endMs: s.endMs,
      attributes: { "edgeflow.run_id": s.runId, ...s.attributes },
    }]);
  }

  /** A heartbeat that leased `tasks`: one claim span per task, child of its attempt. */
  claimed(deps: AppDeps, c: Context, tasks: ClaimedTask[], startMs: number): void {
    if (!tasks.length) return;
    const endMs = (deps.now?.() ?? new Date()).getTime();
    const spans: SpanData[] = [];
    for (const t of tasks) {
      const parent = parseTraceparent(t.trace?.traceparent);
      if (!parent) continue;
      spans.push({
        traceId: parent.traceId,
        spanId: randomHex(8),
        parentSpanId: parent.spanId,
        name: `claim ${t.step}`,
        kind: SpanKind.SERVER,
        startMs,
        endMs,
        attributes: {
          "edgeflow.run_id": t.run_id,
          "edgeflow.task": t.task,
          "edgeflow.attempt": t.attempt,
          "edgeflow.handler": t.handler,
        },
      });
    }
    this.#send(deps, c, spans);
  }

  /**
   * Results reported for `tasks` (`complete` or `fail`) and accepted: the
   * request's span and the attempt's, from the attempt's times in the
   * database, read in the background.
   */
  finished(
    deps: AppDeps,
    c: Context,
    verb: "complete" | "fail",
    tasks: string[],
    startMs: number,
  ): void {
    if (!tasks.length) return;
    const endMs = (deps.now?.() ?? new Date()).getTime();
    const read = async (sql: Sql) => {
      const spans: SpanData[] = [];
      for (const a of await attempts(sql, tasks)) {
        const attrs = {
          "edgeflow.run_id": a.run_id,
          "edgeflow.flow": a.flow,
          "edgeflow.step": a.slug,
          "edgeflow.task": a.task,
          "edgeflow.attempt": a.attempt,
        };
        spans.push({
          traceId: a.trace_id,
          spanId: a.span_id,
          parentSpanId: a.parent_id ?? undefined,
          traceState: a.tracestate ?? undefined,
          name: `task ${a.flow}/${a.slug}`,
          kind: SpanKind.CONSUMER,
          startMs: a.started_at ? Date.parse(a.started_at) : startMs,
          endMs: Date.parse(a.ended_at),
          attributes: { ...attrs, "edgeflow.worker": a.worker, "edgeflow.status": a.status },
          error: verb === "fail" ? a.error ?? "failed" : undefined,
        }, {
          traceId: a.trace_id,
          spanId: randomHex(8),
          parentSpanId: a.span_id,
          name: `${verb} ${a.slug}`,
          kind: SpanKind.SERVER,
          startMs,
          endMs,
          attributes: attrs,
        });
      }
      return this.exporter.add(spans);
    };
    const work = (sql: Sql) => {
      const reading = read(sql).then((batch) => {
        this.#reading.delete(reading);
        return batch;
      }, (err) => {
        this.#reading.delete(reading);
        deps.log("warn", "reading spans failed", { error: String(err) });
      });
      this.#reading.add(reading);
      return reading;
    };
    if (deps.background) deps.background(c, work);
    else work(deps.sql(c));
  }

  #send(deps: AppDeps, c: Context, spans: SpanData[]): void {
    if (!spans.length) return;
    const batch = this.exporter.add(spans);
    if (deps.waitUntil) deps.waitUntil(batch);
    else if (deps.background) deps.background(c, () => batch);
    // else: a process that outlives the response (plain Deno) sends it by itself
  }
}
