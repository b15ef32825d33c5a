/**
 * A small Hono app wired like the real functions (problem rendering, 404s,
 * body limit), for tests that drive the HTTP layer with `app.request`.
 */
import { Hono } from "hono";
import { errorHandler, notFoundHandler } from "../../shared/http/problem.ts";
import { bodyLimit } from "../../shared/http/body.ts";
import type { Logger } from "../../shared/http/logger.ts";

/** Log lines captured by `captureLog`. */
export type LogLine = { level: string; message: string; fields?: Record<string, unknown> };

/** A logger that records lines in memory. */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, log: (level, message, fields) => lines.push({ level, message, fields }) };
}

/** A fresh app with edgeflow's error handling; `configure` adds routes. */
export function testApp(configure: (app: Hono) => void, log: Logger = () => {}): Hono {
  const app = new Hono();
  app.onError(errorHandler({ log }));
  app.notFound(notFoundHandler);
  app.use("*", bodyLimit());
  configure(app);
  return app;
}

/** A POST request with a JSON-encoded body. */
export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}
