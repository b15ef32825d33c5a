/**
 * The dashboard: server-rendered pages under `/ui` (and `/trigger/ui`, where
 * the `trigger` function is served alone, as on Supabase). Each page needs
 * the scope its API route needs (runs: trigger, flows: register,
 * deployments and limits: deploy, workers: worker; `read` keys see all);
 * actions are POST forms handled in `actions.tsx`. Errors render as pages,
 * and an unauthenticated visit goes to the sign-in form.
 */
import { type Context, Hono } from "hono";
import type { AppDeps, AppEnv } from "../app/deps.ts";
import type { Auth } from "../http/auth.ts";
import type { Logger } from "../http/logger.ts";
import type { Wakeups } from "../app/wakeups.ts";
import { ApiError, problemDocument } from "../http/problem.ts";
import { toApiError } from "../http/error_map.ts";
import { zodIssuesToErrors } from "../http/error_path.ts";
import { RunsQuery, uuidParam } from "../api/schemas.ts";
import { decodeCursor, encodeCursor } from "../app/cursor.ts";
import { sameOrigin, sessionFromCookie } from "./session.ts";
import { uiOf } from "./layout.tsx";
import { RunPage, RunsPage } from "./runs_pages.tsx";
import { RunLive } from "./run_live.tsx";
import { DeploymentsPage, FlowPage, FlowsPage } from "./catalog_pages.tsx";
import { ConcurrencyPage, ErrorPage, WorkersPage } from "./ops_pages.tsx";
import { unservedQueues } from "./late_and_stuck.tsx";
import * as q from "./queries.ts";
import { actionRoutes } from "./actions.tsx";
import { WebhooksPage } from "./webhook_pages.tsx";
import { listDeliveries, listWebhooks } from "../webhooks/store.ts";
import { listNotificationDeliveries, listNotifications } from "../notifications/store.ts";
import { firstLogs, runTimeline } from "./run_queries.ts";
import { timelineRows } from "./timeline_svg.tsx";
import { activity, type RunStats, runStats } from "./run_stats.ts";

/** Variables the dashboard's middleware sets for its pages. */
export type UiEnv = AppEnv & { Variables: { uiBase: string; uiNonce: string } };

/** The page context of a request (after its auth middleware ran). */
export const view = (c: Context<UiEnv>) => uiOf(c, c.get("uiBase"), c.get("uiNonce"));

/** Security headers and the request's base path and script nonce. */
function frame(deps: AppDeps) {
  const checkOrigin = sameOrigin(deps.config.publicUrl);
  const cookie = sessionFromCookie(deps);
  return async (c: Context<UiEnv>, next: () => Promise<void>) => {
    // Behind a gateway (Supabase's /functions/v1) links carry the prefix browsers see.
    const prefix = deps.config.pathPrefix ?? "";
    c.set("uiBase", prefix + (c.req.path.startsWith("/trigger/ui") ? "/trigger/ui" : "/ui"));
    const nonce = crypto.randomUUID().replaceAll("-", "");
    c.set("uiNonce", nonce);
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; ` +
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
        "base-uri 'none'",
    );
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    c.header("Cache-Control", "no-store");
    await checkOrigin(c, async () => {
      await cookie(c, next);
    });
  };
}

/** Any error as a page; a missing or refused key on a GET goes to the sign-in form. */
function errorPage(log: Logger, prefix = "") {
  return (err: Error, c: Context<UiEnv>) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) {
      // As the API's errorHandler does: the cause goes to the log, never to the page.
      log("error", "dashboard request failed", {
        path: c.req.path,
        code: apiError.code,
        error: String(err),
      });
    }
    const base = c.get("uiBase") ?? "/ui";
    if (apiError.code === "unauthorized" && (c.req.method === "GET" || c.req.method === "HEAD")) {
      const next = prefix + c.req.path + (new URL(c.req.url).search || "");
      return c.redirect(`${base}/login?next=${encodeURIComponent(next)}`, 303);
    }
    const doc = problemDocument(apiError);
    // Retry-After of a 429 (and any other header the error carries) as the API sends it.
    for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
    const ui = { ...uiOf(c, base, c.get("uiNonce") ?? ""), who: null };
    return c.html(
      <ErrorPage
        ui={ui}
        status={doc.status}
        title={doc.title}
        detail={doc.detail}
        errors={doc.errors}
      />,
      doc.status as 400,
    );
  };
}

/** The dashboard routes, mounted at `/ui` and `/trigger/ui`; `wakeups` tells waiting workers of runs started here. */
export function uiRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const ui = new Hono<UiEnv>();
  ui.onError(errorPage(deps.log, deps.config.pathPrefix));
  ui.use("*", frame(deps));
  const see = auth.requireScope;

  ui.get("/", (c) => c.redirect(`${c.get("uiBase")}/runs`, 303));

  ui.get("/runs", see("trigger"), async (c) => {
    const query = Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ""));
    const parsed = RunsQuery.safeParse(query);
    if (!parsed.success) {
      throw ApiError.of("validation_failed", "bad filter", zodIssuesToErrors(parsed.error.issues));
    }
    const f = parsed.data;
    const cursor = f.cursor ? decodeCursor(f.cursor) : null;
    const sql = deps.sql(c);
    const rows = await q.listRuns(sql, f, cursor);
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    const next = rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null;
    const limit = f.limit === 50 ? undefined : String(f.limit);
    const filters = { status: f.status, flow: f.flow, deployment: f.deployment, limit };
    const choices = await q.filterChoices(sql);
    const hours = await activity(sql);
    const stuck = await unservedQueues(sql);
    const now = await q.engineNow(sql);
    return c.html(
      <RunsPage
        activity={hours}
        stuck={stuck}
        ui={{ ...view(c), now }}
        runs={page}
        filters={filters}
        choices={choices}
        next={next}
        paged={!!cursor}
      />,
    );
  });

  const loadRun = async (c: Context<UiEnv>) => {
    const id = uuidParam(c.req.param("id") ?? "", "run");
    const found = await q.runPage(deps.sql(c), id);
    if (!found) throw ApiError.of("not_found", `no run ${id}`);
    const { tasks, events } = await runTimeline(deps.sql(c), id);
    const { run } = found;
    const now = await q.engineNow(deps.sql(c));
    const end = run.ended_at ? Date.parse(run.ended_at) : now;
    const timeline = timelineRows(run.steps.map((s) => s.slug), tasks, events, end);
    return { ...found, timeline, now };
  };
  ui.get("/runs/:id", see("trigger"), async (c) => {
    const { run, events, last_id, timeline, now } = await loadRun(c);
    const logs = (await firstLogs(deps.sql(c), run.id)) ?? undefined;
    return c.html(
      <RunPage
        ui={{ ...view(c), now }}
        run={run}
        events={events}
        lastId={last_id}
        timeline={timeline}
        logs={logs}
      />,
    );
  });
  ui.get("/runs/:id/live", see("trigger"), async (c) => {
    const { run, events, timeline, now } = await loadRun(c);
    return c.html(
      <RunLive ui={{ ...view(c), now }} run={run} events={events} timeline={timeline} />,
    );
  });

  ui.get("/flows", see("register"), async (c) => {
    return c.html(<FlowsPage ui={view(c)} flows={await q.listFlows(deps.sql(c))} />);
  });
  ui.get("/flows/:name", see("register"), async (c) => {
    const name = c.req.param("name");
    const versions = await q.flowVersions(deps.sql(c), name);
    const wanted = c.req.query("version");
    const current = wanted ? versions.find((v) => String(v.version) === wanted) : versions[0];
    if (!current) {
      throw ApiError.of("not_found", `no flow ${name}${wanted ? ` version ${wanted}` : ""}`);
    }
    const stats = await runStats(deps.sql(c), { flow: name });
    return c.html(
      <FlowPage ui={view(c)} name={name} versions={versions} current={current} stats={stats} />,
    );
  });

  ui.get("/deployments", see("deploy"), async (c) => {
    const sql = deps.sql(c);
    const deployments = await q.listDeployments(sql);
    const stats: Record<string, RunStats> = {};
    for (const d of deployments) {
      stats[String(d.name)] = await runStats(sql, { deployment: String(d.name) });
    }
    return c.html(<DeploymentsPage ui={view(c)} deployments={deployments} stats={stats} />);
  });
  ui.get("/workers", see("worker"), async (c) => {
    const sql = deps.sql(c);
    const [workers, stuck] = [await q.listWorkers(sql), await unservedQueues(sql)];
    return c.html(<WorkersPage ui={view(c)} workers={workers} stuck={stuck} />);
  });
  ui.get("/concurrency", see("deploy"), async (c) => {
    return c.html(<ConcurrencyPage ui={view(c)} limits={await q.concurrencyLimits(deps.sql(c))} />);
  });

  ui.get("/webhooks", see("deploy"), async (c) => {
    const sql = deps.sql(c);
    const hooks = await Promise.all(
      (await listWebhooks(sql)).map(async (hook) => {
        const [{ id }] = await sql<{ id: string }>`
          select id from edgeflow.webhooks where name = ${hook.name}`;
        return { hook, deliveries: await listDeliveries(sql, id, 10) };
      }),
    );
    const notifications = await Promise.all(
      (await listNotifications(sql)).map(async (notification) => ({
        notification,
        deliveries: (await listNotificationDeliveries(sql, notification.name, 10)) ?? [],
      })),
    );
    return c.html(<WebhooksPage ui={view(c)} hooks={hooks} notifications={notifications} />);
  });

  ui.route("/", actionRoutes(deps, auth, wakeups));
  ui.all("*", () => {
    throw ApiError.of("not_found", "there is no such dashboard page");
  });

  const outer = new Hono<AppEnv>();
  // `/ui/` (a typed URL) is the dashboard too: strict routing would 404 it. Behind a gateway the
  // redirect keeps its prefix (`/functions/v1/trigger/ui/` on Supabase).
  const prefix = deps.config.pathPrefix ?? "";
  outer.get("/ui/", (c) => c.redirect(`${prefix}/ui/runs`, 303));
  outer.get("/trigger/ui/", (c) => c.redirect(`${prefix}/trigger/ui/runs`, 303));
  outer.route("/ui", ui);
  outer.route("/trigger/ui", ui);
  return outer;
}
