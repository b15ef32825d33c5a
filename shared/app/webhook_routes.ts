/**
 * Inbound webhooks: managed under `deploy` (`/deploy/webhooks…`), received
 * under `trigger` (`POST /trigger/hooks/:name`, no edgeflow key: the
 * provider's signature is the authentication). See shared/webhooks/.
 */
import { type Context, Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readBody, readJsonAs } from "../http/body.ts";
import { ApiError, problemDocument } from "../http/problem.ts";
import { uuidParam } from "../api/names.ts";
import { DeliveriesQuery, WebhookBody } from "../webhooks/schema.ts";
import {
  deleteWebhook,
  getWebhook,
  hookTarget,
  listDeliveries,
  listWebhooks,
  saveWebhook,
  storedDelivery,
} from "../webhooks/store.ts";
import { type DeliveryOutcome, receiveDelivery } from "../webhooks/receive.ts";
import type { Wakeups } from "./wakeups.ts";

const REFUSALS = {
  missing_signature: "the request carries no signature for this webhook's provider",
  invalid_signature: "the signature does not match the body under any current secret",
  stale_timestamp: "the signed timestamp is more than 5 minutes away from our clock",
};

/**
 * The response for a delivery's outcome (202 new run or event, 200 repeat or
 * ignored, 401, 409, 422). A delivery that emitted an event adds `event_id`,
 * `runs_resumed` and `runs_started`.
 */
function respond(c: Context, outcome: DeliveryOutcome): Response {
  switch (outcome.kind) {
    case "refused":
      throw ApiError.of("invalid_signature", REFUSALS[outcome.reason], [
        { path: "signature", message: outcome.reason },
      ]);
    case "reply":
      return c.json(outcome.body, 200);
    case "started":
      return c.json(
        {
          delivery: outcome.delivery,
          delivery_id: outcome.delivery_id,
          run_id: outcome.run_id,
          ...outcome.emitted,
        },
        202,
      );
    case "emitted":
      return c.json(
        { delivery: outcome.delivery, delivery_id: outcome.delivery_id, ...outcome.emitted },
        202,
      );
    case "duplicate": {
      const { kind: _, ...rest } = outcome;
      return c.json({ ...rest, duplicate: true }, 200);
    }
    case "ignored":
      return c.json(
        { delivery: outcome.delivery, delivery_id: outcome.delivery_id, ignored: outcome.reason },
        200,
      );
    case "failed": {
      const doc = {
        ...problemDocument(outcome.error),
        delivery: outcome.delivery,
        delivery_id: outcome.delivery_id,
      };
      return c.body(JSON.stringify(doc), outcome.error.status, {
        "content-type": "application/problem+json",
      });
    }
  }
}

/** `POST /trigger/hooks/:name`. */
export function hookReceiveRoutes(deps: AppDeps, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const now = deps.now ?? (() => new Date());
  app.post("/trigger/hooks/:name", async (c) => {
    const name = c.req.param("name");
    const sql = deps.sql(c);
    // The raw bytes, exactly as sent: read (and size-checked) by bodyLimit before any parser.
    const body = await readBody(c);
    const hook = await hookTarget(sql, name);
    // Unknown and inactive look alike from outside: no hint which names exist.
    if (!hook || !hook.active) {
      if (hook) {
        await sql`update edgeflow.webhooks set rejected = rejected + 1 where id = ${hook.id}::uuid`;
      }
      throw ApiError.of("not_found", `no active webhook named ${name}`);
    }
    const outcome = await receiveDelivery(sql, hook, {
      headers: c.req.raw.headers,
      body,
      query: c.req.query(),
      now: now(),
    });
    if (outcome.kind === "started" || outcome.kind === "emitted") wakeups?.wake();
    return respond(c, outcome);
  });
  return app;
}

/** `/deploy/webhooks…`: create or update by name, read, list, delete, the delivery log, redeliver. */
export function webhookAdminRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("deploy");
  const now = deps.now ?? (() => new Date());
  const named = async (c: Context) => {
    const hook = await hookTarget(deps.sql(c), c.req.param("name")!);
    if (!hook) throw ApiError.of("not_found", `no webhook named ${c.req.param("name")}`);
    return hook;
  };

  app.post("/deploy/webhooks", scope, async (c) => {
    const body = await readJsonAs(c, WebhookBody);
    const saved = await saveWebhook(deps.sql(c), body);
    if (!saved) {
      throw ApiError.of("validation_failed", "the webhook is invalid", [
        { path: "deployment", message: `no deployment named ${body.deployment}` },
      ]);
    }
    return c.json(saved.webhook, saved.created ? 201 : 200);
  });

  app.get("/deploy/webhooks", scope, async (c) => {
    return c.json({ webhooks: await listWebhooks(deps.sql(c)) });
  });

  app.get("/deploy/webhooks/:name", scope, async (c) => {
    const hook = await getWebhook(deps.sql(c), c.req.param("name"));
    if (!hook) throw ApiError.of("not_found", `no webhook named ${c.req.param("name")}`);
    return c.json(hook);
  });

  app.delete("/deploy/webhooks/:name", scope, async (c) => {
    if (!(await deleteWebhook(deps.sql(c), c.req.param("name")))) {
      throw ApiError.of("not_found", `no webhook named ${c.req.param("name")}`);
    }
    return c.json({ deleted: true, name: c.req.param("name") });
  });

  app.get("/deploy/webhooks/:name/deliveries", scope, async (c) => {
    const q = DeliveriesQuery.parse(c.req.query());
    const hook = await named(c);
    return c.json({ deliveries: await listDeliveries(deps.sql(c), hook.id, q.limit) });
  });

  app.post("/deploy/webhooks/:name/deliveries/:id/redeliver", scope, async (c) => {
    const hook = await named(c);
    const id = uuidParam(c.req.param("id"), "delivery");
    const stored = await storedDelivery(deps.sql(c), hook.id, id);
    if (!stored) throw ApiError.of("not_found", `no delivery ${id} of webhook ${hook.name}`);
    if (stored.body === null) {
      throw ApiError.of("conflict", `delivery ${id} is past its payload retention (7 days)`);
    }
    const outcome = await receiveDelivery(deps.sql(c), hook, {
      headers: new Headers(stored.headers ?? {}),
      body: new TextEncoder().encode(stored.body),
      query: stored.query ?? {},
      now: now(),
      redelivery: { of: id, deliveryId: `redelivery:${crypto.randomUUID()}` },
    });
    if (outcome.kind === "started" || outcome.kind === "emitted") wakeups?.wake();
    return respond(c, outcome);
  });

  return app;
}
