/**
 * An in-memory control plane that speaks the worker protocol of api.md
 * ("heartbeat"), for testing the worker SDK over real HTTP before (and
 * beside) the real server. It keeps the semantics that matter to a worker:
 * lease tokens (fencing), leases that expire and are extended once less
 * than half is left (as `edgeflow.extend_leases` does), `409 stale_lease`,
 * `lost` and `cancel` lists, retries of retryable failures, Bearer auth.
 *
 *   await using server = startFakeServer({ leaseMs: 1_000 });
 *   const id = server.enqueue("etl.extract", { args: { day: "2026-11-22" } });
 */
import { type Context, Hono } from "hono";

/** A task as the fake keeps it. */
export interface FakeTask {
  id: string;
  runId: string;
  handler: string;
  step: string;
  input: { run: Record<string, unknown>; deps: Record<string, unknown>; args: unknown };
  attempt: number;
  maxAttempts: number;
  status: "QUEUED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";
  lease: string | null;
  expiresAt: number | null;
  output?: unknown;
  error?: { message: string; retryable: boolean; [key: string]: unknown };
}

/** One request the fake answered. */
export interface FakeRequest {
  path: string;
  body: Record<string, unknown>;
  status: number;
  at: number;
}

type Route = "heartbeat" | "complete" | "fail";

/** Options of `startFakeServer`. */
export interface FakeServerOptions {
  /** Length of a lease (the step timeout), ms (default 30,000). */
  leaseMs?: number;
  /** `heartbeat_seconds` told to workers (default 10). */
  heartbeatSeconds?: number;
  /** Hand out tasks whatever handlers the worker names (default false). */
  ignoreHandlers?: boolean;
  /** Called when a task completes (a chain test enqueues the next step here). */
  onComplete?: (task: FakeTask) => void;
}

export function startFakeServer(options: FakeServerOptions = {}) {
  const leaseMs = options.leaseMs ?? 30_000;
  const key = "ef_test_worker", readOnlyKey = "ef_test_read";
  const tasks = new Map<string, FakeTask>();
  const cancelledRuns = new Set<string>();
  const requests: FakeRequest[] = [];
  const faults = new Map<Route, number[]>();
  const stats = { extended: 0 };

  const problem = (status: number, code: string, detail: string) =>
    new Response(
      JSON.stringify({
        type: `https://edgeflow.dev/problems/${code}`,
        title: code,
        status,
        detail,
        code,
      }),
      { status, headers: { "Content-Type": "application/problem+json" } },
    );

  // An expired lease goes back to the queue, as the engine's sweep does.
  const sweep = () => {
    for (const t of tasks.values()) {
      if (t.status === "RUNNING" && t.expiresAt !== null && t.expiresAt < Date.now()) {
        Object.assign(t, { status: "QUEUED", lease: null, expiresAt: null });
      }
    }
  };

  type Env = { Variables: { body: Record<string, unknown> } };
  const app = new Hono<Env>();
  app.use("*", async (c, next) => {
    const body = await c.req.json().catch(() => ({}));
    const path = new URL(c.req.url).pathname;
    c.set("body", body);
    if (c.req.header("Authorization") === `Bearer ${readOnlyKey}`) {
      requests.push({ path, body, status: 403, at: Date.now() });
      return problem(403, "forbidden", "the key lacks scope worker");
    }
    if (c.req.header("Authorization") !== `Bearer ${key}`) {
      requests.push({ path, body, status: 401, at: Date.now() });
      return problem(401, "unauthorized", "missing or unknown API key");
    }
    // No batch routes here (a control plane from before them): their 404 comes
    // first, and a fault injected for `complete`/`fail` is the single call's.
    const route: Route | null = path === "/heartbeat"
      ? "heartbeat"
      : /^\/heartbeat\/tasks\/(complete|fail)$/.test(path)
      ? null
      : path.endsWith("/fail")
      ? "fail"
      : "complete";
    const injected = route && faults.get(route)?.shift();
    if (injected) {
      requests.push({ path, body, status: injected, at: Date.now() });
      return problem(injected, "injected", "fault injected by the test");
    }
    sweep();
    await next();
    requests.push({ path, body, status: c.res.status, at: Date.now() });
  });

  app.post("/heartbeat", (c) => {
    const body = c.get("body") as {
      handlers?: string[];
      capacity: number;
      running: { task: string; lease: string }[];
    };
    const lost: string[] = [], cancel: string[] = [];
    for (const { task, lease } of body.running ?? []) {
      const t = tasks.get(task);
      if (!t || t.status !== "RUNNING" || t.lease !== lease) lost.push(task);
      else if (cancelledRuns.has(t.runId)) cancel.push(task);
      else if (t.expiresAt !== null && t.expiresAt - Date.now() < leaseMs / 2) {
        t.expiresAt = Date.now() + leaseMs;
        stats.extended++;
      }
    }
    const claimed = [];
    for (const t of tasks.values()) {
      if (claimed.length >= body.capacity) break;
      if (t.status !== "QUEUED") continue;
      if (!options.ignoreHandlers && body.handlers && !body.handlers.includes(t.handler)) continue;
      Object.assign(t, {
        status: "RUNNING",
        lease: crypto.randomUUID(),
        expiresAt: Date.now() + leaseMs,
        attempt: t.attempt + 1,
      });
      claimed.push({
        task: t.id,
        lease: t.lease,
        run_id: t.runId,
        flow: "test-flow",
        step: t.step,
        handler: t.handler,
        attempt: t.attempt,
        max_attempts: t.maxAttempts,
        task_index: 0,
        lease_expires_at: new Date(t.expiresAt!).toISOString(),
        input: t.input,
      });
    }
    return c.json({
      lease_seconds: leaseMs / 1000,
      heartbeat_seconds: options.heartbeatSeconds ?? 10,
      tasks: claimed,
      cancel,
      lost,
    });
  });

  /** The fencing check shared by complete and fail: a problem response, or the task. */
  const current = (c: Context<Env>): FakeTask | Response => {
    const t = tasks.get(c.req.param("task")!);
    if (!t) return problem(404, "not_found", "no such task");
    const { lease } = c.get("body") as { lease?: string };
    if (t.status !== "RUNNING" || t.lease !== lease) {
      return problem(409, "stale_lease", "the lease is not the task's current one");
    }
    if (cancelledRuns.has(t.runId)) {
      Object.assign(t, { status: "CANCELLED", lease: null, expiresAt: null });
      return problem(409, "run_not_running", "the run is not running");
    }
    return t;
  };

  app.post("/heartbeat/tasks/:task/complete", (c) => {
    const t = current(c);
    if (t instanceof Response) return t;
    const { output } = c.get("body") as { output?: unknown };
    Object.assign(t, { status: "COMPLETED", output: output ?? null, lease: null, expiresAt: null });
    options.onComplete?.(t);
    return c.json({ ok: true, task: t.id });
  });

  app.post("/heartbeat/tasks/:task/fail", (c) => {
    const t = current(c);
    if (t instanceof Response) return t;
    const { error } = c.get("body") as { error: FakeTask["error"] };
    const retry = error!.retryable !== false && t.attempt < t.maxAttempts;
    Object.assign(t, { status: retry ? "QUEUED" : "FAILED", error, lease: null, expiresAt: null });
    return c.json(retry ? { ok: true, retry_at: new Date().toISOString() } : { ok: true });
  });

  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    key,
    /** A key the server knows, without scope worker (403). */
    readOnlyKey,
    tasks,
    requests,
    stats,
    /** Heartbeat bodies, in order. */
    get heartbeats() {
      return requests.filter((r) => r.path === "/heartbeat" && r.status === 200)
        .map((r) => r.body as { capacity: number; running: { task: string; lease: string }[] });
    },
    /** Requests to `/heartbeat/tasks/:task/<kind>`. */
    results(kind: "complete" | "fail", task?: string): FakeRequest[] {
      return requests.filter((r) =>
        r.path.endsWith(`/${kind}`) && (task === undefined || r.path.includes(task))
      );
    },
    /** Queues a task; returns its id. */
    enqueue(
      handler: string,
      o: { args?: unknown; runId?: string; maxAttempts?: number; step?: string } = {},
    ): string {
      const id = crypto.randomUUID();
      tasks.set(id, {
        id,
        runId: o.runId ?? crypto.randomUUID(),
        handler,
        step: o.step ?? handler,
        input: { run: {}, deps: {}, args: o.args ?? null },
        attempt: 0,
        maxAttempts: o.maxAttempts ?? 3,
        status: "QUEUED",
        lease: null,
        expiresAt: null,
      });
      return id;
    },
    /** Cancels a run: queued tasks go at once, running ones learn it on their next heartbeat. */
    cancelRun(runId: string): void {
      cancelledRuns.add(runId);
      for (const t of tasks.values()) {
        if (t.runId === runId && t.status === "QUEUED") t.status = "CANCELLED";
      }
    },
    /** Gives a running task a new lease, as if it had expired and another worker claimed it. */
    stealLease(taskId: string): void {
      const t = tasks.get(taskId)!;
      Object.assign(t, { lease: crypto.randomUUID(), expiresAt: Date.now() + leaseMs });
    },
    /** The next requests to `route` get these statuses instead of being served. */
    inject(route: Route, ...statuses: number[]): void {
      faults.set(route, [...(faults.get(route) ?? []), ...statuses]);
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A running fake server. */
export type FakeServer = ReturnType<typeof startFakeServer>;
