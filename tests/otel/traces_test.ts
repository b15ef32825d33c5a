// deno-lint-ignore-file no-explicit-any
/**
 * OpenTelemetry traces (issue 15): a trigger's W3C traceparent travels into
 * the run, to every task the workers claim and into the handler's `ctx.trace`,
 * and with an OTLP endpoint set the spans of trigger, claim, task and
 * completion reach a collector — here a real HTTP server in the test that
 * records the OTLP/HTTP JSON it is sent — as one trace with the right parents.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { createWorker } from "../../shared/worker/mod.ts";
import type { TaskContext } from "../../shared/worker/mod.ts";
import { RunTracer } from "../../shared/otel/tracer.ts";
import { OtlpExporter } from "../../shared/otel/otlp.ts";
import { otelFromEnv } from "../../shared/otel/config.ts";
import { parseTraceparent } from "../../shared/otel/traceparent.ts";
import { createHook, hookWorld } from "../webhooks/helpers.ts";
import * as sign from "../webhooks/signers.ts";

const CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN = "b7ad6b7169203331";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** A local OTLP/HTTP receiver: every request's headers and JSON body. */
function receiver() {
  const posts: { path: string; headers: Headers; body: any }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    posts.push({ path: new URL(req.url).pathname, headers: req.headers, body: await req.json() });
    return Response.json({});
  });
  const spans = () =>
    posts.flatMap((p) =>
      p.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans))
    ) as OtlpSpan[];
  return {
    posts,
    spans,
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** The app with a tracer exporting to `endpoint` (as OTEL_EXPORTER_OTLP_* would set it). */
function tracedApp(db: TestDatabase, env: Record<string, string>) {
  const otel = otelFromEnv(env)!;
  const tracer = new RunTracer(new OtlpExporter(otel, fetch, silentLogger, { delayMs: 5 }));
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30, otel },
    log: silentLogger,
    tracer,
  });
  return { app, tracer };
}

async function json(
  app: { request: typeof fetch } | any,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      "content-type": "application/json",
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Runs every queued task of the app through the TS SDK until `runId` ends. */
async function work(app: any, db: TestDatabase, runId: string, seen: TaskContext[]) {
  const worker = createWorker({
    url: "http://edgeflow.test",
    key: ADMIN_KEY,
    capacity: 2,
    logger: () => {},
    fetch: (input, init) => Promise.resolve(app.request(String(input), init)),
    handlers: {
      "etl.extract": (ctx) => {
        seen.push(ctx);
        return { rows: 3 };
      },
      "etl.load": (ctx) => {
        seen.push(ctx);
        return { loaded: true };
      },
    },
  });
  await worker.start();
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [r] = await db.sql<{ status: string }>`
        select status from edgeflow.runs where id = ${runId}::uuid`;
      if (r.status === "COMPLETED") break;
      if (Date.now() > deadline) throw new Error(`the run is still ${r.status}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await worker.stop();
  }
}

async function etl(app: any) {
  const reg = await json(app, "POST", "/register", {
    name: "etl",
    steps: [
      { slug: "extract", handler: "etl.extract" },
      { slug: "load", handler: "etl.load", depends_on: ["extract"] },
    ],
  });
  assert.ok(reg.status === 201 || reg.status === 200, JSON.stringify(reg.body));
  const dep = await json(app, "POST", "/deploy", { name: "nightly", flow: "etl" });
  assert.ok(dep.status === 201 || dep.status === 200, JSON.stringify(dep.body));
}

dbTest(
  "a trigger's traceparent reaches the tasks, ctx.trace and the collector as one trace",
  async (db) => {
    const collector = receiver();
    try {
      const { app, tracer } = tracedApp(db, {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=secret%20key,other=1",
        OTEL_SERVICE_NAME: "edgeflow-test",
      });
      await etl(app);
      const started = await json(app, "POST", "/trigger/nightly", {}, {
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
        tracestate: "vendor=abc",
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const answered = parseTraceparent(started.headers.get("traceparent"));
      assert.equal(answered?.traceId, CALLER_TRACE);
      const runId = started.body.run_id;

      const seen: TaskContext[] = [];
      await work(app, db, runId, seen);
      await tracer.flush();

      // The handlers were given the trace: the caller's trace id, each its own span.
      assert.deepEqual(seen.map((c) => c.step), ["extract", "load"]);
      const handlerSpans = seen.map((c) => parseTraceparent(c.trace?.traceparent));
      assert.ok(
        handlerSpans.every((p) => p?.traceId === CALLER_TRACE),
        JSON.stringify(seen.map((c) => c.trace)),
      );
      assert.equal(seen[0].trace?.tracestate, "vendor=abc");

      // The run document names its trace.
      const run = await json(app, "GET", `/trigger/runs/${runId}`);
      assert.equal(run.body.trace.trace_id, CALLER_TRACE);
      assert.equal(run.body.trace.parent_id, CALLER_SPAN);

      // What the collector received: OTLP/HTTP JSON at /v1/traces with the configured headers.
      assert.ok(collector.posts.length >= 1);
      for (const p of collector.posts) {
        assert.equal(p.path, "/v1/traces");
        assert.equal(p.headers.get("x-honeycomb-team"), "secret key");
        assert.equal(p.headers.get("content-type"), "application/json");
        const service = p.body.resourceSpans[0].resource.attributes
          .find((a: any) => a.key === "service.name");
        assert.equal(service.value.stringValue, "edgeflow-test");
      }
      const spans = collector.spans();
      assert.ok(spans.every((s) => s.traceId === CALLER_TRACE), JSON.stringify(spans));
      const named = (prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
      const [trigger] = named("trigger ");
      assert.equal(trigger.name, "trigger nightly");
      assert.equal(trigger.parentSpanId, CALLER_SPAN, "the trigger continues the caller's span");
      assert.equal(trigger.traceState, "vendor=abc");
      assert.equal(trigger.spanId, answered?.spanId);

      const tasks = named("task ");
      assert.deepEqual(tasks.map((s) => s.name).sort(), ["task etl/extract", "task etl/load"]);
      for (const t of tasks) {
        assert.equal(t.parentSpanId, trigger.spanId, `${t.name} is a child of the trigger`);
        assert.ok(BigInt(t.endTimeUnixNano) >= BigInt(t.startTimeUnixNano));
      }
      // The handler's traceparent names its attempt's span.
      assert.deepEqual(
        handlerSpans.map((p) => p!.spanId).sort(),
        tasks.map((t) => t.spanId).sort(),
      );
      const taskIds = new Set(tasks.map((t) => t.spanId));
      for (const prefix of ["claim ", "complete "]) {
        const got = named(prefix);
        assert.equal(got.length, 2, `${prefix}spans: ${JSON.stringify(spans.map((s) => s.name))}`);
        assert.ok(
          got.every((s) => taskIds.has(s.parentSpanId!)),
          `${prefix}spans are children of attempts`,
        );
      }
      // Every span id is unique within the trace.
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length);
    } finally {
      await collector.close();
    }
  },
);

dbTest(
  "a run triggered without a traceparent gets a fresh trace, and nothing is exported without an endpoint",
  async (db) => {
    const collector = receiver();
    try {
      // OTEL_SERVICE_NAME alone (no endpoint) turns nothing on.
      assert.equal(otelFromEnv({ OTEL_SERVICE_NAME: "x" }), undefined);
      const { call } = testApp(db);
      await call("POST", "/register", {
        name: "one",
        steps: [{ slug: "s", handler: "h" }],
      });
      const started = await call("POST", "/trigger/flows/one", {});
      assert.equal(started.status, 201);
      const fresh = parseTraceparent(started.headers.get("traceparent"));
      assert.ok(fresh, "the answer names the run's new trace");
      assert.notEqual(fresh.traceId, "0".repeat(32));
      const beat = await call("POST", "/heartbeat", {
        worker: "w1",
        pool: "default",
        capacity: 1,
        running: [],
      });
      assert.equal(beat.status, 200, JSON.stringify(beat.body));
      const [task] = beat.body.tasks;
      assert.equal(parseTraceparent(task.trace.traceparent)?.traceId, fresh.traceId);
      const done = await call("POST", `/heartbeat/tasks/${task.task}/complete`, {
        lease: task.lease,
        output: 1,
      });
      assert.equal(done.status, 200);
      // A second run gets another trace.
      const other = await call("POST", "/trigger/flows/one", {});
      assert.notEqual(parseTraceparent(other.headers.get("traceparent"))?.traceId, fresh.traceId);
      assert.equal(collector.posts.length, 0);
    } finally {
      await collector.close();
    }
  },
);

dbTest(
  "a collector that is down fails no request and its spans are counted as dropped",
  async (db) => {
    // A port nobody listens on: bind one, note it, close it.
    const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const { app, tracer } = tracedApp(db, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
    });
    await etl(app);
    const started = await json(app, "POST", "/trigger/nightly", {});
    assert.equal(started.status, 201);
    const seen: TaskContext[] = [];
    await work(app, db, started.body.run_id, seen);
    await tracer.flush();
    assert.equal(tracer.exporter.exported, 0);
    assert.ok(tracer.exporter.dropped >= 5, `dropped ${tracer.exporter.dropped}`);
  },
);

dbTest("an inbound webhook's traceparent continues into the run's tasks", async (db) => {
  const w = await hookWorld(db);
  await createHook(w, {
    name: "gl",
    provider: "token",
    secrets: ["glpat-token"],
    parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    token_header: "x-gitlab-token",
    delivery_header: "x-delivery",
  });
  const push = JSON.stringify({ repository: { full_name: "acme/app" }, after: "abc" });
  const signed = sign.token("glpat-token", push, "d-1");
  signed.headers.traceparent = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
  const res = await w.deliver("gl", signed);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const beat = await w.call("POST", "/heartbeat", {
    worker: "w1",
    pool: "default",
    capacity: 1,
    running: [],
  });
  assert.equal(beat.status, 200, JSON.stringify(beat.body));
  const [task] = beat.body.tasks;
  assert.equal(parseTraceparent(task.trace.traceparent)?.traceId, CALLER_TRACE);
  const run = await w.call("GET", `/trigger/runs/${res.body.run_id}`);
  assert.equal(run.body.trace.trace_id, CALLER_TRACE);
  assert.equal(
    run.body.trace.span_id,
    CALLER_SPAN,
    "the tasks' spans are children of the sender's",
  );
});
