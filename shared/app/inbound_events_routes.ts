/**
 * `POST /trigger/events` and `GET /trigger/events` (issue 16): events from
 * outside, which end waits, cancel runs (`cancel_on`) and start runs
 * (deployment `triggers`). Named apart from events_routes.ts, the run event
 * log. Mounted before the trigger function's `/trigger/:deployment`, which
 * would otherwise take `/trigger/events` for a deployment named "events".
 */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs } from "../http/body.ts";
import { EventBody, EventsQuery } from "../api/event_schema.ts";
import { emitEvent, listEvents } from "../engine/events.ts";
import type { Wakeups } from "./wakeups.ts";

export function inboundEventsRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("trigger");

  app.post("/trigger/events", scope, async (c) => {
    const body = await readJsonAs(c, EventBody);
    const result = await emitEvent(deps.sql(c), body);
    if (result.runs_resumed + result.runs_started > 0) wakeups?.wake();
    for (const r of result.refused) deps.log("warn", "event trigger refused", { ...r });
    return c.json(result, result.duplicate ? 200 : 202);
  });

  app.get("/trigger/events", scope, async (c) => {
    const q = EventsQuery.parse(c.req.query());
    return c.json({ events: await listEvents(deps.sql(c), q) });
  });

  return app;
}
