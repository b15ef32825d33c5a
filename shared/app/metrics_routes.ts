/**
 * `GET /metrics` (and `/trigger/metrics`, for Supabase's per-function paths):
 * Prometheus text for scrapers holding a key of scope `read`. One database
 * statement (edgeflow.metrics()) per scrape.
 */
import { Hono } from "hono";
import { type AppDeps, type AppEnv, DEFAULT_LATE_SECONDS } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { AppMetrics } from "../metrics/histogram.ts";
import { type DatabaseMetrics, renderMetrics } from "../metrics/prometheus.ts";

export function metricsRoutes(deps: AppDeps, auth: Auth, metrics: AppMetrics): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const handler = auth.requireScope("read");
  for (const path of ["/metrics", "/trigger/metrics"]) {
    app.get(path, handler, async (c) => {
      const late = deps.config.lateSeconds ?? DEFAULT_LATE_SECONDS;
      const [{ m }] = await deps.sql(c)<{ m: DatabaseMetrics }>`
        select edgeflow.metrics(${late}::int) as m`;
      return c.body(renderMetrics(m, metrics), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      });
    });
  }
  return app;
}

export { AppMetrics };
