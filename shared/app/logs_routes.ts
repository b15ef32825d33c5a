/**
 * Task logs over HTTP (api.md, "Logs"):
 *
 * - `POST /heartbeat/tasks/:task/logs {"lease","lines","dropped"}` (scope
 *   `worker`): a worker ships a batch of its task's lines under the task's
 *   lease. A lease that is not the current one → `409 stale_lease`, nothing
 *   stored. Lines over the task's bounds are counted, not stored
 *   (`dropped` in the answer and in every read).
 * - `GET /trigger/runs/:id/logs?step=&task=&level=&after=&limit=` (scope
 *   `trigger`, or the dashboard's cookie): JSON pages, or with `Accept:
 *   text/event-stream` a live stream resumable by `Last-Event-ID` (each
 *   line's `id`), polled like the events stream (events_routes.ts) and ended
 *   with an `end` event once the run is final and every line was sent.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import type { Sql } from "../db/sql.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { zodIssuesToErrors } from "../http/error_path.ts";
import { LogLevel, LogsBody } from "../api/log_schema.ts";
import { Slug, uuidParam } from "../api/names.ts";
import { Uuid } from "../api/names.ts";
import { appendTaskLogs, type LogFilter, type LogPage, readLogs } from "../engine/logs.ts";
import { sessionFromCookie } from "../ui/session.ts";
import { streamRun } from "./run_stream.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `POST /heartbeat/tasks/:task/logs`, served by the `heartbeat` function. */
export function logsIngestRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/heartbeat/tasks/:task/logs", auth.requireScope("worker"), async (c) => {
    const task = uuidParam(c.req.param("task"), "task");
    const body = await readJsonAs(c, LogsBody);
    // A lease we never issued cannot be current (and is no uuid to cast).
    const outcome = UUID.test(body.lease)
      ? await appendTaskLogs(deps.sql(c), task, body.lease, body.lines, body.dropped)
      : { error: "stale_lease" as const };
    if ("error" in outcome) {
      if (outcome.error === "not_found") throw refusalError(outcome.error, `no task ${task}`);
      throw refusalError(
        outcome.error,
        "this lease is not the task's current one; nothing stored",
      );
    }
    return c.json(outcome);
  });
  return app;
}

const LogsQuery = z.object({
  step: Slug.optional(),
  task: Uuid.optional(),
  level: LogLevel.optional(),
  after: z.string().regex(/^\d{1,15}$/, "must be a non-negative integer (a log line id)")
    .transform(Number).optional(),
  limit: z.string().regex(/^\d{1,4}$/, "must be an integer from 1 to 1000").transform(Number)
    .refine((n) => n >= 1 && n <= 1000, "must be an integer from 1 to 1000").optional(),
});

/** The query of a logs read, or 422 naming the parameter. */
function logFilter(c: Context): LogFilter {
  const parsed = LogsQuery.safeParse(c.req.query());
  if (!parsed.success) {
    throw ApiError.of("validation_failed", "bad query", zodIssuesToErrors(parsed.error.issues));
  }
  const q = parsed.data;
  let after = q.after ?? 0;
  const lastEventId = c.req.header("Last-Event-ID");
  if (lastEventId !== undefined && lastEventId.trim() !== "") {
    if (!/^\d{1,15}$/.test(lastEventId.trim())) {
      throw ApiError.of("validation_failed", "not a log line id", [
        { path: "Last-Event-ID", message: "must be a non-negative integer (a log line id)" },
      ]);
    }
    after = Number(lastEventId.trim());
  }
  return {
    after,
    limit: q.limit ?? 500,
    step: q.step,
    task: q.task?.toLowerCase(),
    level: q.level,
  };
}

/** `GET /trigger/runs/:id/logs`, served by the `trigger` function. */
export function logsReadRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const cookie = sessionFromCookie(deps);
  app.get("/trigger/runs/:id/logs", cookie, auth.requireScope("trigger"), async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const filter = logFilter(c);
    const sql = deps.sql(c);
    const first = await readLogs(sql, id, filter);
    if (!first) throw ApiError.of("not_found", `no run ${id}`);
    if (!(c.req.header("Accept") ?? "").includes("text/event-stream")) return c.json(first);
    return stream(c, deps, sql, first, filter);
  });
  return app;
}

function stream(c: Context, deps: AppDeps, sql: Sql, first: LogPage, filter: LogFilter) {
  let dropped = "";
  return streamRun(c, deps, {
    first,
    what: "log",
    async write(sse, page) {
      for (const line of page.logs) {
        await sse.writeSSE({ id: String(line.id), data: JSON.stringify(line) });
      }
      // Overflow is news too: sent (without an id) whenever a count changes.
      const counts = JSON.stringify(page.dropped);
      if (page.dropped.length && counts !== dropped) {
        await sse.writeSSE({ event: "dropped", data: counts });
      }
      dropped = counts;
      return page.logs.length > 0;
    },
    drained: (page) => page.logs.length < filter.limit,
    next: (after) => readLogs(sql, first.run_id, { ...filter, after }),
  });
}
