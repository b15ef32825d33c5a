/**
 * `GET /trigger/runs/:id/events`: the state changes of a run (recorded by the
 * triggers of migration 0030), as JSON pages (`?after=<id>`) or, with
 * `Accept: text/event-stream`, as Server-Sent Events that follow the run live.
 *
 * The stream polls the events table (one indexed statement, every 300 ms
 * while nothing arrives). LISTEN would save the idle polls, but the `Sql`
 * interface keeps no dedicated connection to listen on, a Worker may not hold
 * one across requests, and a poll of `events_run` costs well under a
 * millisecond. It resumes after `Last-Event-ID`, sends a comment every 15 s
 * so proxies keep the connection, and ends with an `end` event once the run
 * is final and every event has been sent. The dashboard's cookie works here
 * too, so a browser's `EventSource` can follow a run.
 *
 * Delivery near the live edge is at-least-once for JSON readers (resume from
 * `last_id`, de-duplicate by `id`); one stream sends each event once.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import { FINAL_RUN_STATES, streamRun } from "./run_stream.ts";
import type { Auth } from "../http/auth.ts";
import type { Sql } from "../db/sql.ts";
import { ApiError } from "../http/problem.ts";
import { uuidParam } from "../api/schemas.ts";
import { sessionFromCookie } from "../ui/session.ts";

/** One recorded state change. */
export interface RunEvent {
  id: number;
  run_id: string;
  kind: "run" | "step" | "task";
  step: string | null;
  task: string | null;
  attempt: number | null;
  from: string | null;
  to: string;
  at: string;
  error: unknown;
}

/** A page of a run's events and the run's status, read in one snapshot. */
export interface EventPage {
  run_id: string;
  status: string;
  events: RunEvent[];
  /**
   * Where to resume (`?after=`). Near the live edge it stops short of the
   * newest events, which then come again: an event can become visible just
   * after one with a higher id (see migration 0030), so readers de-duplicate
   * by id rather than miss it.
   */
  last_id: number;
}

/** Run states after which nothing changes any more (run_stream.ts; imported from here by the UI). */
export { FINAL_RUN_STATES };
const PAGE = 500;

/** Events of `runId` after event `after`, or null when there is no such run. */
export async function readEvents(
  sql: Sql,
  runId: string,
  after: number,
  limit = PAGE,
): Promise<EventPage | null> {
  const [row] = await sql<{ p: EventPage | null }>`
    select edgeflow.run_events(${runId}::uuid, ${after}::bigint, ${limit}::int) as p`;
  return row?.p ?? null;
}

/** An event id given by the client: a non-negative integer, or 422 naming where it came from. */
function eventId(value: string | undefined, path: string): number {
  if (value === undefined || value === "") return 0;
  if (!/^\d{1,15}$/.test(value)) {
    throw ApiError.of("validation_failed", "not an event id", [
      { path, message: "must be a non-negative integer (an event id)" },
    ]);
  }
  return Number(value);
}

function pageSize(value: string | undefined): number {
  if (value === undefined) return PAGE;
  // Decimal digits only: Number() also reads 0x10, 1e2 and " 10".
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw ApiError.of("validation_failed", "bad limit", [
      { path: "limit", message: "must be an integer from 1 to 1000" },
    ]);
  }
  return n;
}

/** The events routes (served by the `trigger` function). */
export function eventsRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const cookie = sessionFromCookie(deps);
  app.get("/trigger/runs/:id/events", cookie, auth.requireScope("trigger"), async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const lastEventId = c.req.header("Last-Event-ID");
    const after = lastEventId !== undefined
      ? eventId(lastEventId, "Last-Event-ID")
      : eventId(c.req.query("after"), "after");
    const limit = pageSize(c.req.query("limit"));
    const sql = deps.sql(c);
    const first = await readEvents(sql, id, after, limit);
    if (!first) throw ApiError.of("not_found", `no run ${id}`);
    if (!(c.req.header("Accept") ?? "").includes("text/event-stream")) return c.json(first);
    return stream(c, deps, sql, first, limit);
  });

  return app;
}

function stream(c: Context, deps: AppDeps, sql: Sql, first: EventPage, limit: number) {
  // Events read again near the live edge (EventPage.last_id) go out once.
  const sent = new Set<number>();
  return streamRun(c, deps, {
    first,
    what: "event",
    async write(sse, page) {
      let wrote = false;
      for (const event of page.events) {
        if (sent.has(event.id)) continue;
        await sse.writeSSE({ id: String(event.id), data: JSON.stringify(event) });
        sent.add(event.id);
        wrote = true;
      }
      for (const id of sent) if (id <= page.last_id) sent.delete(id);
      return wrote;
    },
    drained: (page) => page.events.length < limit,
    next: (after) => readEvents(sql, first.run_id, after, limit),
  });
}
