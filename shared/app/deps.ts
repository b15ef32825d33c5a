/**
 * What the Hono app needs from its runtime, passed in rather than read from
 * globals (pgflow's `deps` habit): the database, the configuration, a clock
 * and a logger. Entrypoints build this; tests build it around a test database.
 */
import type { Context } from "hono";
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../http/logger.ts";
import { parseRateSpec, type RateSpec } from "../ratelimit/rate_spec.ts";
import { otelFromEnv, type OtelSettings } from "../otel/config.ts";

/** Settings read once from the environment by the entrypoint. */
export interface AppConfig {
  /** `EDGEFLOW_ADMIN_KEY`: the bootstrap admin key. */
  adminKey?: string;
  /** Local dev server only: every request is admin. */
  authDisabled?: boolean;
  /** Interval a worker is told to heartbeat at (seconds, default 10). */
  heartbeatSeconds: number;
  /** Lease length announced to workers when a step names none (seconds, default 30). */
  leaseSeconds: number;
  /** Public base URL of this deployment (QStash callbacks, links); optional. */
  publicUrl?: string;
  /** QStash integration, present when `QSTASH_TOKEN` is set. */
  qstash?: QstashSettings;
  /** `UPSTASH_REDIS_REST_URL` + `_TOKEN`: trigger rate limits answered by Redis, Postgres behind it. */
  redis?: { url: string; token: string };
  /** `EDGEFLOW_TRIGGER_RATE_LIMIT` ("100/60"): triggers per deployment (or ad hoc flow) per window. */
  triggerRateLimit?: RateSpec;
  /** `EDGEFLOW_TRIGGER_KEY_RATE_LIMIT` ("600/60"): trigger requests per API key per window. */
  triggerKeyRateLimit?: RateSpec;
  /** `EDGEFLOW_HEALTH_TIMEOUT_MS`: `/health` answers 503 when the database is silent this long (default 2,000). */
  healthTimeoutMs?: number;
  /** Seconds an Idempotency-Key is remembered as a retry by the rate limiter (default 86 400). */
  duplicateTtlSeconds?: number;
  /** `EDGEFLOW_RETENTION_DAYS`: days finished runs are kept (default 30; a deployment's `retention_days` wins). */
  retentionDays?: number;
  /** `EDGEFLOW_PRUNE_BATCH`: runs the tick prunes at most per pass (default 1,000). */
  pruneBatch?: number;
  /** `EDGEFLOW_LATE_SECONDS`: a run not started this long after its scheduled time is late (60). */
  lateSeconds?: number;
  /**
   * `EDGEFLOW_PATH_PREFIX`: where a gateway mounts the functions, as browsers
   * see it (links of the dashboard). Default `/functions/v1` on Supabase
   * (which sets `SUPABASE_URL` in every function and hands the function the
   * path without that prefix), else none.
   */
  pathPrefix?: string;
  /**
   * `EDGEFLOW_RESULT_CALLS`: result calls (`POST /heartbeat/tasks/complete`,
   * `…/fail`) a process sends to the database at once; requests arriving while
   * all are busy go together in the next (shared/app/result_groups.ts).
   * Default 2; 0: every request its own call.
   */
  resultCalls?: number;
  /** `EDGEFLOW_LONG_POLL_MAX_SECONDS`: the longest a heartbeat may wait for work (default 20). */
  longPollMaxSeconds?: number;
  /**
   * `EDGEFLOW_PLAN_TOPUP_MINUTES`: how often a process plans schedules' fire
   * times for the SQL tick after a request (default 10 on Supabase, else 0: off).
   */
  planTopUpMinutes?: number;
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` and the rest (shared/otel/config.ts): spans exported; unset: none. */
  otel?: OtelSettings;
}

/** `QSTASH_TOKEN`, `QSTASH_URL`, `QSTASH_CURRENT_SIGNING_KEY`, `QSTASH_NEXT_SIGNING_KEY`. */
export interface QstashSettings {
  token: string;
  /** API base URL (default QStash's own). */
  url?: string;
  /** Inbound verification; without it every QStash callback is refused (401). */
  currentSigningKey: string;
  nextSigningKey: string;
}

export interface AppDeps {
  /** The database for this request (a shared client, or one per request on Workers). */
  sql: (c: Context) => Sql;
  config: AppConfig;
  log: Logger;
  /** Wall clock (tests move it). */
  now?: () => Date;
  /** The app's latency histograms for /metrics (createApp makes them when absent). */
  metrics?: import("../metrics/histogram.ts").AppMetrics;
  /**
   * Keep the isolate alive for `work` after the response (the edge runtime's `waitUntil`
   * on Supabase); absent: the caller awaits it (shared/app/plan_topup.ts).
   */
  waitUntil?: (work: Promise<unknown>) => void;
  /**
   * Set where the runtime sees a client leave reliably only while an answer
   * streams (Workers; Deno for clients that write head and body apart): long
   * polls then stream their answer (shared/app/long_poll.ts), and `keepUntil`
   * holds the request's resources until `work` settles.
   */
  keepUntil?: (c: Context, work: Promise<unknown>) => void;
  /**
   * Work to finish after the response (Workers' `waitUntil`, a detached
   * promise on Deno), with a database client that outlives the request.
   * Unset: nothing runs in the background (the tick still does it all).
   */
  background?: (c: Context, task: (sql: Sql) => Promise<unknown>) => void;
  /** Outbound HTTP (notifications); default the global fetch. */
  fetch?: typeof fetch;
  /** Spans of runs for OpenTelemetry (createApp makes one when `config.otel` is set). */
  tracer?: import("../otel/tracer.ts").RunTracer;
}

/** How long `/health` waits for the database before answering 503. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

/** Seconds after its scheduled time a run that has not started counts as late. */
export const DEFAULT_LATE_SECONDS = 60;

/** Days finished runs are kept when neither `EDGEFLOW_RETENTION_DAYS` nor the deployment says. */
export const DEFAULT_RETENTION_DAYS = 30;

/** Shortest `EDGEFLOW_ADMIN_KEY` accepted outside the local dev server. */
export const MIN_ADMIN_KEY_LENGTH = 24;

/** Where the configuration is read: only the local dev server may run without auth. */
export interface ConfigContext {
  /** True for `deno task dev` alone; every deployed runtime leaves it unset. */
  dev?: boolean;
}

/**
 * Defaults for everything optional in `AppConfig`. Throws (so the runtime
 * refuses to start) when `EDGEFLOW_AUTH_DISABLED` is set outside the dev
 * server, or when `EDGEFLOW_ADMIN_KEY` is shorter than 24 characters there.
 */
export function configFromEnv(
  env: Record<string, string | undefined>,
  context: ConfigContext = {},
): AppConfig {
  if (!context.dev && env.EDGEFLOW_AUTH_DISABLED) {
    throw new Error(
      "EDGEFLOW_AUTH_DISABLED is set: only the local dev server (deno task dev) may run " +
        "without authentication; unset it to serve edgeflow here",
    );
  }
  const adminKey = env.EDGEFLOW_ADMIN_KEY;
  if (!context.dev && adminKey && adminKey.length < MIN_ADMIN_KEY_LENGTH) {
    throw new Error(
      `EDGEFLOW_ADMIN_KEY is ${adminKey.length} characters long: it must have at least ` +
        `${MIN_ADMIN_KEY_LENGTH} (e.g. openssl rand -hex 32)`,
    );
  }
  const num = (v: string | undefined, d: number) => (v && Number.isFinite(+v) && +v > 0 ? +v : d);
  return {
    adminKey: env.EDGEFLOW_ADMIN_KEY || undefined,
    authDisabled: !!context.dev && env.EDGEFLOW_AUTH_DISABLED === "1",
    heartbeatSeconds: num(env.EDGEFLOW_HEARTBEAT_SECONDS, 10),
    leaseSeconds: num(env.EDGEFLOW_LEASE_SECONDS, 30),
    publicUrl: env.EDGEFLOW_PUBLIC_URL || undefined,
    healthTimeoutMs: num(env.EDGEFLOW_HEALTH_TIMEOUT_MS, DEFAULT_HEALTH_TIMEOUT_MS),
    retentionDays: Math.ceil(num(env.EDGEFLOW_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)),
    pruneBatch: Math.ceil(num(env.EDGEFLOW_PRUNE_BATCH, 1_000)),
    lateSeconds: Math.ceil(num(env.EDGEFLOW_LATE_SECONDS, DEFAULT_LATE_SECONDS)),
    pathPrefix: (env.EDGEFLOW_PATH_PREFIX ?? (env.SUPABASE_URL ? "/functions/v1" : ""))
      .replace(/\/+$/, "") || undefined,
    longPollMaxSeconds: longPollCeiling(env.EDGEFLOW_LONG_POLL_MAX_SECONDS),
    resultCalls: resultCalls(env.EDGEFLOW_RESULT_CALLS),
    planTopUpMinutes: env.EDGEFLOW_PLAN_TOPUP_MINUTES !== undefined
      ? Math.max(0, Number(env.EDGEFLOW_PLAN_TOPUP_MINUTES) || 0)
      : env.SUPABASE_URL
      ? 10
      : 0,
    otel: otelFromEnv(env),
    qstash: env.QSTASH_TOKEN
      ? {
        token: env.QSTASH_TOKEN,
        url: env.QSTASH_URL || undefined,
        currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY ?? "",
        nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY ?? "",
      }
      : undefined,
    redis: env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
      ? { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }
      : undefined,
    triggerRateLimit: parseRateSpec(
      "EDGEFLOW_TRIGGER_RATE_LIMIT",
      env.EDGEFLOW_TRIGGER_RATE_LIMIT,
    ),
    triggerKeyRateLimit: parseRateSpec(
      "EDGEFLOW_TRIGGER_KEY_RATE_LIMIT",
      env.EDGEFLOW_TRIGGER_KEY_RATE_LIMIT,
    ),
  };
}

/**
 * Result calls in flight per process (EDGEFLOW_RESULT_CALLS). More calls at
 * once means smaller groups; one at a time leaves the database one backend
 * (and its WAL flush) to work with. Figure that decided it
 * (tests/bench/peers/diagnose.ts --only http on 2 cores, the setting
 * alternated): 0 ran 2,157–3,179 steps/s at 451–682 µs of backend CPU per
 * step, 2 ran 2,676–3,144 at 387–453 µs, 3 ran 2,729–2,853 at 469–480 µs;
 * in the peer loop, 1 ran 2,084–2,224 against 2,245–3,360 for 0.
 */
export const DEFAULT_RESULT_CALLS = 2;

function resultCalls(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_RESULT_CALLS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new Error(
      `EDGEFLOW_RESULT_CALLS is ${JSON.stringify(value)}: give a whole number from 0 (every ` +
        "result request its own call) to 64",
    );
  }
  return n;
}

/**
 * A heartbeat's long poll must end before the platform's wall-clock limit
 * (Supabase Edge Functions: 150 s on the free plan, 400 s paid; Cloudflare
 * and proxies cut idle responses at ~100 s). Default 20 s: well inside all
 * of them, and a worker that re-polls every 20 s costs one request per 20 s.
 * Values above 120 s are refused at start-up, so a typo cannot cross 150 s.
 */
export const DEFAULT_LONG_POLL_MAX_SECONDS = 20;
export const LONG_POLL_CEILING_SECONDS = 120;

function longPollCeiling(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_LONG_POLL_MAX_SECONDS;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > LONG_POLL_CEILING_SECONDS) {
    throw new Error(
      `EDGEFLOW_LONG_POLL_MAX_SECONDS is ${JSON.stringify(value)}: give seconds from 0 to ` +
        `${LONG_POLL_CEILING_SECONDS} (the platforms cut requests at 150 s or less)`,
    );
  }
  return n;
}

/** Hono environment of the app's routes. */
export type AppEnv = {
  Variables: {
    principal: import("../http/auth.ts").Principal;
  };
};
