/**
 * The edgeflow HTTP app: one Hono app serving every route of api.md. Each
 * function (register, deploy, trigger, heartbeat) can be served alone, as
 * Supabase does, by naming it in `functions`; Cloudflare serves them all.
 */
import { type Context, Hono } from "hono";
import { type AppDeps, type AppEnv, DEFAULT_HEALTH_TIMEOUT_MS } from "./deps.ts";
import type { Sql } from "../db/sql.ts";
import { createAuth } from "../http/auth.ts";
import { bodyLimit, urlGuard } from "../http/body.ts";
import { errorHandler, notFoundHandler, problem } from "../http/problem.ts";
import { ApiError } from "../http/problem.ts";
import { sqlKeyStore } from "./key_store.ts";
import { triggerStores } from "../ratelimit/stores.ts";
import { registerRoutes } from "./register_routes.ts";
import { deployRoutes } from "./deploy_routes.ts";
import { triggerRoutes } from "./trigger_routes.ts";
import { heartbeatRoutes } from "./heartbeat_routes.ts";
import { Wakeups } from "./wakeups.ts";
import { limitsRoutes } from "./limits_routes.ts";
import { eventsRoutes } from "./events_routes.ts";
import { logsIngestRoutes, logsReadRoutes } from "./logs_routes.ts";
import { retryRoutes } from "./retry_routes.ts";
import {
  inboundEventsRoutes,
  waitTimeoutRoutes,
  waitWakeupsAfter,
} from "./inbound_events_routes.ts";
import { uiRoutes } from "../ui/routes.tsx";
import { graphqlRoutes } from "./graphql_routes.ts";
import { scheduleRoutes } from "./schedule_routes.ts";
import { AppMetrics, metricsRoutes } from "./metrics_routes.ts";
import { RunTracer } from "../otel/tracer.ts";
import { OtlpExporter } from "../otel/otlp.ts";
import { openApiRoutes } from "./openapi_routes.ts";
import { planTopUp } from "./plan_topup.ts";
import { hookReceiveRoutes, webhookAdminRoutes } from "./webhook_routes.ts";
import {
  drainAfter,
  notificationAdminRoutes,
  notificationDrainRoutes,
} from "./notification_routes.ts";
import { createNotifier } from "../notifications/notifier.ts";

export const FUNCTIONS = ["register", "deploy", "trigger", "heartbeat"] as const;
export type FunctionName = typeof FUNCTIONS[number];

export interface AppOptions {
  /** Which functions to serve (default: all). */
  functions?: readonly FunctionName[];
}

/** `select 1` within `timeoutMs` (the client's own `ping` where it has one). */
async function databaseAnswers(sql: Sql, timeoutMs: number): Promise<boolean> {
  if (sql.ping) return await sql.ping(timeoutMs);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
  try {
    return await Promise.race([sql`select 1 as ok`.then(() => true), silent]);
  } finally {
    clearTimeout(timer);
  }
}

/** The app's span exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set (shared/otel/). */
function tracerFor(deps: AppDeps): RunTracer | undefined {
  const otel = deps.config.otel;
  return otel && new RunTracer(new OtlpExporter(otel, deps.fetch ?? fetch, deps.log));
}

export function createApp(appDeps: AppDeps, options: AppOptions = {}): Hono<AppEnv> {
  const metrics = appDeps.metrics ?? new AppMetrics();
  const deps: AppDeps = { ...appDeps, metrics, tracer: appDeps.tracer ?? tracerFor(appDeps) };
  const served = options.functions ?? FUNCTIONS;
  const app = new Hono<AppEnv>();
  const now = deps.now ? () => deps.now!().getTime() : Date.now;
  // Failed authentications are counted in the trigger path's rate-limit store (Redis or Postgres).
  const stores = triggerStores({ redis: deps.config.redis, log: deps.log });
  const auth = createAuth({
    keys: (c) => sqlKeyStore(deps.sql(c), now),
    adminKey: deps.config.adminKey,
    authDisabled: deps.config.authDisabled,
    log: deps.log,
    now,
    failures: (c) => stores(deps.sql(c)).limiter,
  });

  app.onError(errorHandler({ log: deps.log }));
  app.notFound(notFoundHandler);
  app.use("*", bodyLimit());
  app.use("*", urlGuard());
  // Off unless configured (default on Supabase): fire-time plans of the SQL tick.
  if (deps.config.planTopUpMinutes) app.use("*", planTopUp(deps));
  const notifier = createNotifier(deps);
  // Requests that can end runs: their outbox rows go out right after the response.
  for (const path of ["/heartbeat/tasks/*", "/trigger/runs/*"]) {
    app.use(path, drainAfter(deps, notifier));
  }
  // Requests that can begin waits: their QStash timeout wake-ups, when configured (issue 16).
  for (const path of ["/heartbeat/*", "/trigger/*"]) app.use(path, waitWakeupsAfter(deps));

  // Its own short timeout: a load balancer must hear "503" from a frozen
  // database, not wait on it (the Sql client then fails statements fast).
  const healthTimeoutMs = deps.config.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const health = async (c: Context) => {
    const ok = await databaseAnswers(deps.sql(c), healthTimeoutMs).catch((err) => {
      deps.log("warn", "health check: database unreachable", { error: String(err) });
      return false;
    });
    if (ok) return c.json({ status: "ok" });
    return problem(
      c,
      ApiError.of("unavailable", "the database does not answer", [], { retryAfter: 1 }),
    );
  };
  app.get("/health", health);
  for (const fn of served) app.get(`/${fn}/health`, health);

  const routes = {
    register: registerRoutes,
    deploy: deployRoutes,
    trigger: triggerRoutes,
    heartbeat: heartbeatRoutes,
  };
  const wakeups = new Wakeups();
  // Events and waits (issue 16): before `/trigger/:deployment`, which would take `/trigger/events`.
  if (served.includes("trigger")) app.route("/", inboundEventsRoutes(deps, auth, wakeups));
  if (served.includes("trigger")) app.route("/", waitTimeoutRoutes(deps, auth, wakeups));
  for (const fn of served) app.route("/", routes[fn](deps, auth, wakeups));
  if (served.includes("deploy")) app.route("/", limitsRoutes(deps, auth));
  if (served.includes("deploy")) app.route("/", webhookAdminRoutes(deps, auth, wakeups));
  if (served.includes("trigger")) app.route("/", hookReceiveRoutes(deps, wakeups));
  if (served.includes("deploy")) app.route("/", notificationAdminRoutes(deps, auth, notifier));
  if (served.includes("trigger")) app.route("/", notificationDrainRoutes(deps, auth, notifier));
  if (served.includes("trigger")) app.route("/", eventsRoutes(deps, auth));
  if (served.includes("trigger")) app.route("/", logsReadRoutes(deps, auth));
  if (served.includes("trigger")) app.route("/", retryRoutes(deps, auth, wakeups));
  if (served.includes("heartbeat")) app.route("/", logsIngestRoutes(deps, auth));
  if (served.includes("trigger")) app.route("/", metricsRoutes(deps, auth, metrics));
  if (served.includes("trigger")) {
    app.route("/", uiRoutes(deps, auth, wakeups));
    // A visitor opening the server's root meets the dashboard, not a JSON 404. Relative, so that
    // Supabase's /functions/v1/trigger → /functions/v1/trigger/ui too.
    app.get("/", (c) => c.redirect("ui", 302));
    app.get("/trigger", (c) => c.redirect("trigger/ui", 302));
    app.get("/trigger/", (c) => c.redirect("ui", 302));
  }
  if (served.includes("register")) app.route("/", graphqlRoutes(deps, auth));
  app.route("/", scheduleRoutes(deps, auth, served));
  app.route("/", openApiRoutes());
  return app;
}
