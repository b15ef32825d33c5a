/**
 * The options of `createWorker`, their defaults, and their validation.
 *
 * Mistakes here (a capacity of 0, no handlers) would otherwise surface as a
 * worker that silently never claims anything, so they throw at creation.
 */
import { DEFAULT_RETRY, type RetryPolicy } from "./client.ts";
import type { Handler } from "./context.ts";
import { DEFAULT_RESULT_BATCH_MS } from "./result_batch.ts";
import { type Clock, consoleLogger, type Logger, systemClock } from "./deps.ts";

/** Options of `createWorker`. */
export interface WorkerOptions {
  /** Base URL of the control plane, e.g. `http://localhost:8000`. */
  url: string;
  /** An API key with scope `worker`, sent as `Authorization: Bearer`. */
  key: string;
  /** Work pool to take tasks from (default `"default"`). */
  pool?: string;
  /** Worker name shown in `GET /heartbeat/workers` (default `w-` + 8 random hex digits). */
  name?: string;
  /** Handler name → function. Only these handlers' tasks are claimed (unless `fallback`). */
  handlers: Record<string, Handler>;
  /**
   * Runs tasks whose handler is not in `handlers`. With it the worker claims
   * tasks of every handler in its pool (the heartbeat names none, api.md) and
   * `handlers` may be empty: what the Celery bridge and the container and
   * process executors use, since they run any task the pool holds.
   */
  fallback?: Handler;
  /** Most handlers running at once (default 1). */
  capacity?: number;
  /** Idle poll interval in seconds (default: the server's `heartbeat_seconds`). */
  pollSeconds?: number;
  /** Heartbeat interval until the server has said its own (default 10 s). */
  heartbeatSeconds?: number;
  /** Per-request time limit (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** Retries of the first heartbeat and of results (default `DEFAULT_RETRY`). */
  retry?: Partial<RetryPolicy>;
  /** HTTP client (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Time and timers (default: `Date.now` and the global timers). */
  clock?: Clock;
  /** Log sink (default: JSON lines on the console). */
  logger?: Logger;
  /**
   * Results finishing within this many milliseconds of each other are sent in
   * one call (`POST /heartbeat/tasks/complete`); default 2, 0 turns batching
   * off (one call per result).
   */
  resultBatchMs?: number;
  /**
   * Ship each task's `ctx.log` lines to the control plane, where the run's
   * logs and run page show them (default true). `flushSeconds`: how long a
   * line may wait for its batch (default 1).
   */
  shipLogs?: boolean | { flushSeconds?: number };
  /**
   * Ship `console.log/info/debug/warn/error` called inside a handler too
   * (default false; needs AsyncLocalStorage: Deno, Node, Bun, Workers with
   * nodejs_compat). The console still prints them.
   */
  captureConsole?: boolean;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  url: string;
  key: string;
  pool: string;
  name: string;
  handlers: Map<string, Handler>;
  fallback: Handler | null;
  capacity: number;
  pollMs: number | null;
  heartbeatMs: number;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof fetch;
  clock: Clock;
  logger: Logger;
  resultBatchMs: number;
  shipLogs: { flushMs: number } | false;
  captureConsole: boolean;
}

/** Applies defaults; throws `TypeError` on options that cannot work. */
export function resolveOptions(o: WorkerOptions): ResolvedOptions {
  if (!o || typeof o.url !== "string" || !/^https?:\/\//.test(o.url)) {
    throw new TypeError("createWorker: `url` must be an http(s) URL");
  }
  if (typeof o.key !== "string" || o.key === "") {
    throw new TypeError("createWorker: `key` must be an API key with scope worker");
  }
  const names = Object.keys(o.handlers ?? {});
  if (o?.fallback !== undefined && typeof o.fallback !== "function") {
    throw new TypeError("createWorker: `fallback` must be a function");
  }
  if (names.length === 0 && !o.fallback) {
    throw new TypeError("createWorker: `handlers` must name at least one (or give `fallback`)");
  }
  for (const name of names) {
    if (typeof o.handlers[name] !== "function") {
      throw new TypeError(`createWorker: handler "${name}" is not a function`);
    }
  }
  const capacity = o.capacity ?? 1;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new TypeError("createWorker: `capacity` must be a whole number ≥ 1");
  }
  for (const key of ["pollSeconds", "heartbeatSeconds", "requestTimeoutMs"] as const) {
    const value = o[key];
    if (value !== undefined && !(typeof value === "number" && value > 0)) {
      throw new TypeError(`createWorker: \`${key}\` must be a positive number`);
    }
  }
  const retry = { ...DEFAULT_RETRY, ...o.retry };
  if (!(retry.attempts >= 1) || !(retry.baseDelayMs >= 0) || !(retry.maxDelayMs >= 0)) {
    throw new TypeError("createWorker: `retry` needs attempts ≥ 1 and delays ≥ 0");
  }
  const resultBatchMs = o.resultBatchMs ?? DEFAULT_RESULT_BATCH_MS;
  if (!(typeof resultBatchMs === "number" && resultBatchMs >= 0 && resultBatchMs < 60_000)) {
    throw new TypeError("createWorker: `resultBatchMs` must be a number of ms ≥ 0 (0: off)");
  }
  const customFetch = o.fetch;
  return {
    url: o.url,
    key: o.key,
    pool: o.pool ?? "default",
    name: o.name ?? `w-${randomHex8()}`,
    // A Map, not the object: a task naming "constructor" must not find Object's.
    handlers: new Map(names.map((name) => [name, o.handlers[name]])),
    fallback: o.fallback ?? null,
    capacity,
    pollMs: o.pollSeconds === undefined ? null : o.pollSeconds * 1000,
    heartbeatMs: (o.heartbeatSeconds ?? 10) * 1000,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    retry,
    // Called through arrows, never as a method: Workers throw "Illegal
    // invocation" when `fetch` runs with a foreign `this`. The global is
    // looked up per call, so a runtime that installs it late is honoured.
    fetch: customFetch
      ? (input, init) => customFetch(input, init)
      : (input, init) => fetch(input, init),
    clock: o.clock ?? systemClock,
    logger: o.logger ?? consoleLogger,
    resultBatchMs,
    captureConsole: o.captureConsole === true && o.shipLogs !== false,
    shipLogs: o.shipLogs === false ? false : {
      flushMs: ((typeof o.shipLogs === "object" ? o.shipLogs.flushSeconds : undefined) ?? 1) * 1000,
    },
  };
}

/** 8 random hex digits; Node 18 has no global `crypto` without a flag. */
function randomHex8(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID().slice(0, 8);
  return Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
}
