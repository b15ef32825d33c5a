/**
 * Requests signed the way each provider signs them, computed with
 * `node:crypto` (an implementation independent of shared/webhooks/), for
 * driving `POST /trigger/hooks/:name` in tests.
 */
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";

export type Signed = { headers: Record<string, string>; body: string };

const hmac = (key: string | Buffer, data: string, enc: "hex" | "base64" = "hex") =>
  createHmac("sha256", key).update(data).digest(enc);

/** GitHub: `X-Hub-Signature-256: sha256=<hex>`, event and delivery id in headers. */
export function github(secret: string, body: string, delivery: string, event = "push"): Signed {
  return {
    body,
    headers: {
      "x-hub-signature-256": `sha256=${hmac(secret, body)}`,
      "x-github-event": event,
      "x-github-delivery": delivery,
      "content-type": "application/json",
    },
  };
}

/** Stripe: `Stripe-Signature: t=<unix>,v1=<hex of "<t>.<body>">` (id and type in the body). */
export function stripe(secret: string, body: string, atSeconds: number): Signed {
  return {
    body,
    headers: {
      "stripe-signature": `t=${atSeconds},v1=${hmac(secret, `${atSeconds}.${body}`)}`,
      "content-type": "application/json",
    },
  };
}

/** Standard Webhooks, signed by the `standardwebhooks` library itself. */
export function standard(secret: string, body: string, id: string, at: Date): Signed {
  const signature = new Webhook(secret).sign(id, at, body);
  return {
    body,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
      "content-type": "application/json",
    },
  };
}

/** Slack: `X-Slack-Signature: v0=<hex of "v0:<ts>:<body>">`. */
export function slack(
  secret: string,
  body: string,
  atSeconds: number,
  type = "application/json",
): Signed {
  return {
    body,
    headers: {
      "x-slack-signature": `v0=${hmac(secret, `v0:${atSeconds}:${body}`)}`,
      "x-slack-request-timestamp": String(atSeconds),
      "content-type": type,
    },
  };
}

/** Generic HMAC of the body in a configurable header, here `x-signature: sha256=<base64>`. */
export function hmacBase64(secret: string, body: string, delivery: string): Signed {
  return {
    body,
    headers: {
      "x-signature": `sha256=${hmac(secret, body, "base64")}`,
      "x-delivery": delivery,
      "content-type": "application/json",
    },
  };
}

/** A shared token in a header, GitLab style. */
export function token(secret: string, body: string, delivery: string): Signed {
  return {
    body,
    headers: {
      "x-gitlab-token": secret,
      "x-delivery": delivery,
      "content-type": "application/json",
    },
  };
}
