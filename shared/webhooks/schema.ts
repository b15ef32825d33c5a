/** The bodies of `POST /deploy/webhooks` and `POST /deploy/notifications`, and their types. */
import { z } from "zod";
import { queryInt } from "../api/query_int.ts";
import { JsonObject, Name } from "../api/names.ts";
import { PROVIDERS } from "./providers.ts";
import { WebhookFilter } from "./filter.ts";
import { templateIssues } from "./template.ts";
import { fromBase64 } from "./crypto.ts";
import { EventName } from "../api/event_schema.ts";

const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, "must be an HTTP header name")
  .transform((s) => s.toLowerCase());
const Secret = z.string().min(1).max(1024);

/**
 * A hook's `emit` (issue 16): the event each delivery records. `key` and
 * `payload` are templates as `parameters` are (`{{ body.repository.full_name }}`);
 * `payload` defaults to the whole parsed body.
 */
export const WebhookEmit = z.strictObject({
  name: EventName,
  key: z.string().max(512).default(""),
  payload: z.json().default("{{ body }}"),
});
export type WebhookEmitInput = z.output<typeof WebhookEmit>;

/** The body of `POST /deploy/webhooks` (create or update by name; declarative like `POST /deploy`). */
export const WebhookBody = z.strictObject({
  name: Name,
  deployment: Name,
  provider: z.enum(PROVIDERS),
  /** Every current secret: the first, and the next one while a rotation is under way. */
  secrets: z.array(Secret).min(1).max(5),
  filter: WebhookFilter.default({}),
  parameters: JsonObject.default({}),
  active: z.boolean().default(true),
  signature_header: HeaderName.optional(),
  encoding: z.enum(["hex", "base64"]).optional(),
  prefix: z.string().max(50).optional(),
  token_header: HeaderName.optional(),
  delivery_header: HeaderName.optional(),
  event_header: HeaderName.optional(),
  /** Record an event for each delivery (besides its run, or instead: `start_run: false`). */
  emit: WebhookEmit.nullable().default(null),
  start_run: z.boolean().default(true),
}).superRefine((hook, ctx) => {
  const templates: [string, unknown][] = [["parameters", hook.parameters]];
  if (hook.emit) {
    templates.push(["emit", { key: hook.emit.key, payload: hook.emit.payload }]);
  }
  for (const [field, template] of templates) {
    for (const e of templateIssues(template)) {
      ctx.addIssue({
        code: "custom",
        path: [field, ...e.segments as (string | number)[]],
        message: e.message,
      });
    }
  }
  if (!hook.start_run && !hook.emit) {
    ctx.addIssue({
      code: "custom",
      path: ["start_run"],
      message: "a hook that starts no run must emit an event (emit)",
    });
  }
  if (hook.provider === "standard") {
    hook.secrets.forEach((s, i) => {
      const key = fromBase64(s.startsWith("whsec_") ? s.slice(6) : s);
      if (!key || key.byteLength < 16) {
        ctx.addIssue({
          code: "custom",
          path: ["secrets", i],
          message: "a Standard Webhooks secret is whsec_ followed by base64 of at least 16 bytes",
        });
      }
    });
  }
  const own: Record<string, string[]> = {
    hmac: ["signature_header", "encoding", "prefix", "delivery_header", "event_header"],
    token: ["token_header", "delivery_header", "event_header"],
  };
  for (
    const key of [
      "signature_header",
      "encoding",
      "prefix",
      "token_header",
      "delivery_header",
      "event_header",
    ]
  ) {
    if (
      (hook as Record<string, unknown>)[key] !== undefined && !own[hook.provider]?.includes(key)
    ) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `not a setting of provider ${hook.provider}`,
      });
    }
  }
});
export type WebhookInput = z.output<typeof WebhookBody>;

export const NOTIFICATION_EVENTS = [
  "run.completed",
  "run.failed",
  "run.crashed",
  "run.cancelled",
] as const;

/** The body of `POST /deploy/notifications`. */
export const NotificationBody = z.strictObject({
  name: Name,
  url: z.url({ protocol: /^https?$/ }).max(2000),
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be whsec_ followed by base64")
    .refine((s) => (fromBase64(s.slice(6))?.byteLength ?? 0) >= 16, "must hold at least 16 bytes"),
  events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).default([...NOTIFICATION_EVENTS]),
  flows: z.array(Name).max(100).nullable().default(null),
  deployments: z.array(Name).max(100).nullable().default(null),
  active: z.boolean().default(true),
});
export type NotificationInput = z.output<typeof NotificationBody>;

/** `?limit=` of the delivery lists (1–200, default 50). */
export const DeliveriesQuery = z.object({
  limit: queryInt(1, 200, 50),
});

/** Settings of `hmac` and `token` hooks, as stored in `webhooks.options`. */
export function providerOptions(hook: WebhookInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (
    const key of [
      "signature_header",
      "encoding",
      "prefix",
      "token_header",
      "delivery_header",
      "event_header",
    ] as const
  ) {
    if (hook[key] !== undefined) out[key] = hook[key]!;
  }
  return out;
}
