/**
 * Outbound notifications: managed under `deploy` (`/deploy/notifications…`);
 * the outbox is drained by the tick, in the background after requests that
 * end runs, and by `POST /trigger/notifications/drain` (QStash's wake-up,
 * signature-verified, or a caller with the `trigger` scope).
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { DeliveriesQuery, NotificationBody } from "../webhooks/schema.ts";
import {
  deleteNotification,
  getNotification,
  listNotificationDeliveries,
  listNotifications,
  saveNotification,
} from "../notifications/store.ts";
import { DRAIN_PATH, type Notifier } from "../notifications/notifier.ts";
import { qstashOrKey } from "./qstash_or_key.ts";

export function notificationAdminRoutes(
  deps: AppDeps,
  auth: Auth,
  notifier: Notifier,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("deploy");

  app.post("/deploy/notifications", scope, async (c) => {
    const body = await readJsonAs(c, NotificationBody);
    const saved = await saveNotification(deps.sql(c), body);
    notifier.changed();
    return c.json(saved.notification, saved.created ? 201 : 200);
  });
  app.get("/deploy/notifications", scope, async (c) => {
    return c.json({ notifications: await listNotifications(deps.sql(c)) });
  });
  app.get("/deploy/notifications/:name", scope, async (c) => {
    const n = await getNotification(deps.sql(c), c.req.param("name"));
    if (!n) throw ApiError.of("not_found", `no notification named ${c.req.param("name")}`);
    return c.json(n);
  });
  app.delete("/deploy/notifications/:name", scope, async (c) => {
    if (!(await deleteNotification(deps.sql(c), c.req.param("name")))) {
      throw ApiError.of("not_found", `no notification named ${c.req.param("name")}`);
    }
    notifier.changed();
    return c.json({ deleted: true, name: c.req.param("name") });
  });
  app.get("/deploy/notifications/:name/deliveries", scope, async (c) => {
    const q = DeliveriesQuery.parse(c.req.query());
    const rows = await listNotificationDeliveries(deps.sql(c), c.req.param("name"), q.limit);
    if (!rows) throw ApiError.of("not_found", `no notification named ${c.req.param("name")}`);
    return c.json({ deliveries: rows });
  });
  return app;
}

/** `POST /trigger/notifications/drain`: QStash-signed when it carries a signature, else a key. */
export function notificationDrainRoutes(
  deps: AppDeps,
  auth: Auth,
  notifier: Notifier,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const gate = qstashOrKey(deps, auth, "trigger");
  app.post(DRAIN_PATH, gate, async (c: Context) => c.json(await notifier.drain(deps.sql(c))));
  return app;
}

/**
 * After a request that may have ended runs, drain in the background (when the
 * runtime offers one); the response never waits for it.
 */
export function drainAfter(deps: AppDeps, notifier: Notifier): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method !== "POST" || c.res.status >= 400 || !deps.background) return;
    deps.background(c, (sql) => notifier.kick(sql));
  };
}
