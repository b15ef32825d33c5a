/**
 * What a handler can ask of the control plane beyond its own task: start a
 * deployment and follow its run (`ctx.runDeployment`, Prefect's
 * `run_deployment`), and read or write variables (`ctx.variables`), through
 * which a subflow hands a result back (seed 003's modular subflows).
 *
 * The run `ctx.runDeployment` starts names the calling task as its
 * `parent_task`, so it is that task's child in `GET /trigger/runs/:id`
 * (`parent` / `children`) and counts towards the nesting depth limit.
 *
 * Plain HTTP against the public API (`POST /trigger/:name`,
 * `GET /trigger/runs/:id`, `/deploy/variables/:name`) with the worker's own
 * key, URL and fetch: the key then needs the scopes `worker`, `trigger` and
 * `deploy` (or `admin`). Every request honours the task's signal, so a
 * cancelled task stops waiting at once.
 */
import { backoffMs, DEFAULT_RETRY, type ProtocolClient } from "./client.ts";
import { sleep } from "./deps.ts";
import { HttpError, isTransient, NonRetryableError } from "./errors.ts";

/** Options of `ctx.runDeployment`. */
export interface RunDeploymentOptions {
  /** Follow the run to its end (default true); false resolves once it is started. */
  wait?: boolean;
  /** Pause between two polls of the run (default 1,000 ms). */
  pollMs?: number;
  /** Give up waiting after this long (default: no limit but the task's signal); retryable. */
  timeoutMs?: number;
  /**
   * The trigger's `Idempotency-Key`. Default `${taskId}:${attempt}:${name}`
   * (`:2`, `:3`… for further calls to the same deployment in one attempt),
   * so a request repeated after a network failure starts no second run.
   */
  idempotencyKey?: string;
}

/** A deployment's run as `ctx.runDeployment` resolves it. */
export interface DeploymentRun {
  run_id: string;
  /** `COMPLETED` when waited for; the status at start otherwise. */
  status: string;
  /** The run's output (an object of its leaf steps' outputs); null until it completes. */
  output: unknown;
}

/** The code of a run that failed because runs nested deeper than the server allows. */
export const DEPTH_EXCEEDED = "subflow_depth_exceeded";

/**
 * The run ended FAILED, CANCELLED or CRASHED. Retryable: the step's retry
 * starts a new run — unless the run failed on the nesting depth limit
 * (`code` `subflow_depth_exceeded`): a new run would build the same chain.
 */
export class DeploymentRunError extends Error {
  /** The run that ended badly. */
  readonly runId: string;
  /** Its final status. */
  readonly status: string;
  /** Its error document. */
  readonly error: unknown;

  /** A run `runId` of `deployment` that ended `status`. */
  constructor(deployment: string, runId: string, status: string, error: unknown) {
    const why = (error as { message?: unknown } | null)?.message;
    super(`run ${runId} of deployment "${deployment}" ended ${status}${why ? `: ${why}` : ""}`);
    this.name = "DeploymentRunError";
    this.runId = runId;
    this.status = status;
    this.error = error;
    if ((error as { code?: unknown } | null)?.code === DEPTH_EXCEEDED) {
      this.code = DEPTH_EXCEEDED;
      this.retryable = false;
    }
  }

  /** `subflow_depth_exceeded` when the run failed on the nesting depth limit. */
  readonly code?: string;
  /** False when retrying cannot help (the depth limit). */
  readonly retryable?: boolean;
}

/** `ctx.variables`: named JSON values shared by flows. */
export interface TaskVariables {
  /** The value, or undefined when no such variable exists. */
  get<T = unknown>(name: string): Promise<T | undefined>;
  /** Create or replace the variable. */
  set(name: string, value: unknown): Promise<void>;
  /** Remove it; false when there was none. */
  delete(name: string): Promise<boolean>;
}

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]);

/** One JSON request; transient failures are retried with the SDK's backoff while `signal` lives. */
async function request(
  client: ProtocolClient,
  signal: AbortSignal,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const { url, key, fetch, clock, requestTimeoutMs } = client.options;
  const base = url.replace(/\/+$/, "");
  for (let attempt = 1;; attempt++) {
    signal.throwIfAborted();
    const controller = new AbortController();
    const abort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    const timer = clock.setTimeout(
      () => controller.abort(new Error(`${path}: no answer`)),
      requestTimeoutMs,
    );
    try {
      const res = await fetch(base + path, {
        method,
        headers: {
          "Authorization": `Bearer ${key}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      const text = await res.text();
      const json = text ? JSON.parse(text) : null;
      if (res.ok || res.status === 404) return { status: res.status, json };
      const problem = (json ?? {}) as { code?: string; detail?: string };
      throw new HttpError(res.status, problem.code, problem.detail, path);
    } catch (err) {
      signal.throwIfAborted();
      if (!isTransient(err) || attempt >= DEFAULT_RETRY.attempts) throw err;
      await sleep(clock, backoffMs(DEFAULT_RETRY, attempt), signal);
    } finally {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    }
  }
}

/** Who is asking: the task whose handler calls, for default idempotency keys. */
export interface Caller {
  taskId: string;
  attempt: number;
  signal: AbortSignal;
  /** The task's trace context: the child run continues the trace. */
  trace?: { traceparent: string; tracestate?: string | null };
}

/** Builds `ctx.runDeployment` for one task. */
export function deploymentRunner(client: ProtocolClient, caller: Caller) {
  const calls = new Map<string, number>();
  return async function runDeployment(
    name: string,
    parameters: Record<string, unknown> = {},
    options: RunDeploymentOptions = {},
  ): Promise<DeploymentRun> {
    const { wait = true, pollMs = 1_000, timeoutMs } = options;
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    const key = options.idempotencyKey ??
      `${caller.taskId}:${caller.attempt}:${name}${n > 1 ? `:${n}` : ""}`;
    const started = await request(
      client,
      caller.signal,
      "POST",
      `/trigger/${encodeURIComponent(name)}`,
      { parameters, parent_task: caller.taskId },
      {
        "Idempotency-Key": key,
        ...(caller.trace ? { traceparent: caller.trace.traceparent } : {}),
        ...(caller.trace?.tracestate ? { tracestate: caller.trace.tracestate } : {}),
      },
    ).catch((err) => {
      if (err instanceof HttpError && err.code === "depth_exceeded") {
        // Each retry would nest as deep: fail this task, and its callers, for good.
        throw Object.assign(new NonRetryableError(`deployment "${name}": ${err.detail}`), {
          code: DEPTH_EXCEEDED,
        });
      }
      throw err;
    });
    if (started.status === 404) {
      throw new NonRetryableError(`no deployment named "${name}" can be run`);
    }
    const run = started.json as { run_id: string; status: string };
    if (!wait) return { run_id: run.run_id, status: run.status, output: null };

    const { clock } = client.options;
    const until = timeoutMs === undefined ? Infinity : clock.now() + timeoutMs;
    for (;;) {
      const got = await request(client, caller.signal, "GET", `/trigger/runs/${run.run_id}`);
      if (got.status === 404) throw new NonRetryableError(`run ${run.run_id} is gone`);
      const doc = got.json as { status: string; output: unknown; error: unknown };
      if (doc.status === "COMPLETED") {
        return { run_id: run.run_id, status: doc.status, output: doc.output };
      }
      if (FINAL.has(doc.status)) {
        throw new DeploymentRunError(name, run.run_id, doc.status, doc.error);
      }
      if (clock.now() + pollMs > until) {
        throw new Error(`run ${run.run_id} of deployment "${name}" did not end in ${timeoutMs} ms`);
      }
      await sleep(clock, pollMs, caller.signal);
    }
  };
}

/** Builds `ctx.variables` for one task. */
export function taskVariables(client: ProtocolClient, signal: AbortSignal): TaskVariables {
  const path = (name: string) => `/deploy/variables/${encodeURIComponent(name)}`;
  return {
    async get<T>(name: string) {
      const got = await request(client, signal, "GET", path(name));
      return got.status === 404 ? undefined : (got.json as { value: T }).value;
    },
    async set(name, value) {
      await request(client, signal, "PUT", path(name), {
        value: value === undefined ? null : value,
      });
    },
    async delete(name) {
      return (await request(client, signal, "DELETE", path(name))).status !== 404;
    },
  };
}
