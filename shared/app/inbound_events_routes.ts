/**
 * `POST /trigger/events` and `GET /trigger/events` (issue 16): events from
 * outside, which end waits, cancel runs (`cancel_on`) and start runs
 * (deployment `triggers`). With QStash configured, also
 * `POST /trigger/waits/timeouts`, the delayed message that fires wait
 * timeouts on time, and the background pass that publishes those messages
 * (shared/qstash/wait_wakeups.ts). Named apart from events_routes.ts, the run event
 * log. Mounted before the trigger function's `/trigger/:deployment`, which
 * would otherwise take `/trigger/events` for a deployment named "events".
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { qstashOrKey } from "./qstash_or_key.ts";
import { qstashPublisher } from "../scheduler/qstash_delivery.ts";
import {
  fireWaitWakeup,
  publishWaitWakeups,
  WAIT_TIMEOUTS_PATH,
  type WaitWake,
} from "../qstash/wait_wakeups.ts";
import { ApiError } from "../http/problem.ts";
import { parseJsonText } from "../http/body.ts";
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

/** Where wait wake-ups go, when QStash and the public URL are configured; else null. */
export function waitWake(deps: AppDeps): WaitWake | null {
  const publisher = qstashPublisher(deps.config);
  const base = deps.config.publicUrl?.replace(/\/+$/, "");
  return publisher && base ? { publisher, url: `${base}${WAIT_TIMEOUTS_PATH}` } : null;
}

/**
 * After a request that may have begun waits (a completion, a run started, an
 * event), publish their QStash wake-ups in the background; the response
 * never waits for it. Off without QStash or without `deps.background`.
 */
export function waitWakeupsAfter(deps: AppDeps): MiddlewareHandler {
  const wake = waitWake(deps);
  return async (c, next) => {
    await next();
    if (!wake || c.req.method !== "POST" || c.res.status >= 400 || !deps.background) return;
    deps.background(c, (sql) => publishWaitWakeups(sql, wake, deps.log));
  };
}

const WakeBody = z.object({ run_id: z.uuid(), slug: z.string().max(128) }).partial();

/**
 * `POST /trigger/waits/timeouts`: QStash's delayed message for a wait's
 * timeout (signed; without a signature, a `trigger` key will do). Fires
 * every due timeout; `503` with `Retry-After` when the wait it names is
 * still open and not yet due by our clock, so QStash delivers it again.
 */
export function waitTimeoutRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const gate = qstashOrKey(deps, auth, "trigger");
  app.post(WAIT_TIMEOUTS_PATH, gate, async (c: Context) => {
    const raw = (c.get("qstashBody" as never) as string | undefined) ?? await c.req.text();
    let parsed: unknown = {};
    try {
      parsed = raw.trim() === "" ? {} : parseJsonText(raw);
    } catch { /* a wake-up without a usable body still fires what is due */ }
    const body = WakeBody.safeParse(parsed);
    const fired = await fireWaitWakeup(deps.sql(c), body.success ? body.data : {});
    if (fired.timeouts > 0) wakeups?.wake();
    if (fired.retryAfter !== null) {
      throw ApiError.of(
        "unavailable",
        "the wait is not due yet by this server's clock",
        [],
        { retryAfter: fired.retryAfter },
      );
    }
    return c.json({ timeouts: fired.timeouts });
  });
  return app;
}
