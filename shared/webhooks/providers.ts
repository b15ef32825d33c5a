/**
 * How each provider signs a delivery, and where it puts the delivery id and
 * the event name. `verifyDelivery` runs on the raw bytes before anything
 * parses them (the signature is the authentication); `describeDelivery` runs
 * after, on the parsed body.
 *
 * Every current secret is tried (rotation: the old and the new one are both
 * listed while senders switch). Timestamped schemes (Stripe, Standard
 * Webhooks, Slack) refuse a timestamp more than 5 minutes away from our clock
 * either way; schemes without one (GitHub, plain HMAC, token) rely on the
 * delivery id for replays: a repeated id returns the first delivery's run.
 */
import {
  concat,
  fromBase64,
  fromHex,
  sha256Hex,
  timingSafeEqualText,
  utf8,
  verifyHmac,
} from "./crypto.ts";

export const PROVIDERS = ["github", "stripe", "standard", "slack", "hmac", "token"] as const;
export type Provider = typeof PROVIDERS[number];

/** Provider settings beyond the secrets (`hmac` and `token` only; header names lower-case). */
export interface ProviderOptions {
  /** hmac: the header holding the signature (default `x-signature`). */
  signature_header?: string;
  /** hmac: how the MAC is written (default `hex`). */
  encoding?: "hex" | "base64";
  /** hmac: text before the MAC, e.g. `sha256=` (default none). */
  prefix?: string;
  /** token: the header holding the shared secret (default `x-webhook-token`). */
  token_header?: string;
  /** hmac, token: the header naming the delivery (default: a hash of the body is the id). */
  delivery_header?: string;
  /** hmac, token: the header naming the event (default: the body's `type`, if any). */
  event_header?: string;
}

/** Largest clock difference accepted for timestamped schemes (seconds). */
export const TOLERANCE_SECONDS = 300;

/** Why a request was refused; each is answered 401. */
export type Refusal = "missing_signature" | "invalid_signature" | "stale_timestamp";

export interface Incoming {
  headers: Headers;
  /** The raw body, exactly as received. */
  body: Uint8Array<ArrayBuffer>;
  /** Our clock, ms since the epoch. */
  now: number;
}

/** null when the request is authentic, else why not. */
export async function verifyDelivery(
  provider: Provider,
  secrets: string[],
  options: ProviderOptions,
  req: Incoming,
): Promise<Refusal | null> {
  const h = (name: string) => req.headers.get(name);
  const keys = secrets.map(utf8);
  switch (provider) {
    case "github": {
      const sig = h("x-hub-signature-256");
      if (!sig) return "missing_signature";
      if (!sig.startsWith("sha256=")) return "invalid_signature";
      return await ok(verifyHmac(keys, req.body, fromHex(sig.slice(7))));
    }
    case "stripe": {
      const sig = h("stripe-signature");
      if (!sig) return "missing_signature";
      const parts = sig.split(",").map((p) => p.trim().split("=", 2));
      const t = parts.find(([k]) => k === "t")?.[1] ?? "";
      const stale = staleness(t, req.now);
      if (stale) return stale;
      const signed = concat(utf8(`${t}.`), req.body);
      for (const [k, v] of parts) {
        if (k === "v1" && await verifyHmac(keys, signed, fromHex(v ?? ""))) return null;
      }
      return "invalid_signature";
    }
    case "standard": {
      const id = h("webhook-id");
      const ts = h("webhook-timestamp");
      const sig = h("webhook-signature");
      if (!id || !ts || !sig) return "missing_signature";
      const stale = staleness(ts, req.now);
      if (stale) return stale;
      const signed = concat(utf8(`${id}.${ts}.`), req.body);
      const standardKeys = secrets.map((s) => fromBase64(s.startsWith("whsec_") ? s.slice(6) : s))
        .filter((k): k is Uint8Array<ArrayBuffer> => k !== null && k.byteLength > 0);
      for (const entry of sig.split(" ")) {
        const [version, mac] = entry.split(",", 2);
        if (version !== "v1" || !mac) continue;
        if (await verifyHmac(standardKeys, signed, fromBase64(mac))) return null;
      }
      return "invalid_signature";
    }
    case "slack": {
      const sig = h("x-slack-signature");
      const ts = h("x-slack-request-timestamp");
      if (!sig || !ts) return "missing_signature";
      const stale = staleness(ts, req.now);
      if (stale) return stale;
      if (!sig.startsWith("v0=")) return "invalid_signature";
      return await ok(verifyHmac(keys, concat(utf8(`v0:${ts}:`), req.body), fromHex(sig.slice(3))));
    }
    case "hmac": {
      const sig = h(options.signature_header ?? "x-signature");
      if (!sig) return "missing_signature";
      const prefix = options.prefix ?? "";
      if (!sig.startsWith(prefix)) return "invalid_signature";
      const text = sig.slice(prefix.length).trim();
      const mac = options.encoding === "base64" ? fromBase64(text) : fromHex(text);
      return await ok(verifyHmac(keys, req.body, mac));
    }
    case "token": {
      const token = h(options.token_header ?? "x-webhook-token");
      if (!token) return "missing_signature";
      let matched = false;
      for (const s of secrets) if (await timingSafeEqualText(token, s)) matched = true;
      return matched ? null : "invalid_signature";
    }
  }
}

async function ok(verified: Promise<boolean>): Promise<Refusal | null> {
  return (await verified) ? null : "invalid_signature";
}

/** A unix-seconds timestamp within the tolerance of `now`, or why not. */
function staleness(text: string, now: number): Refusal | null {
  if (!/^\d{1,12}$/.test(text)) return "invalid_signature";
  return Math.abs(now / 1000 - Number(text)) > TOLERANCE_SECONDS ? "stale_timestamp" : null;
}

/** What a verified delivery is: its id, its event, and a direct reply for handshakes. */
export interface DeliveryFacts {
  /** The id as the sender gave it (shown in the log; at most 200 characters). */
  deliveryId: string;
  /** What makes two requests one delivery: a signed id, or a hash of what was signed. */
  key: string;
  event: string | null;
  /** Answered as is (200) without recording or running: GitHub's ping, Slack's url_verification. */
  reply?: Record<string, unknown>;
}

/** The delivery id and event of a verified delivery (`body`: the parsed body). */
export async function describeDelivery(
  provider: Provider,
  options: ProviderOptions,
  req: Incoming,
  body: unknown,
): Promise<DeliveryFacts> {
  const h = (name: string) => req.headers.get(name);
  const field = (key: string) => {
    const v = body !== null && typeof body === "object"
      ? (body as Record<string, unknown>)[key]
      : null;
    return typeof v === "string" && v !== "" ? v : null;
  };
  const bodyHash = () => sha256Hex(req.body);
  // Ids a signature covers are the key as they are (hashed when long); unsigned ones are not.
  const signed = async (id: string) =>
    id.length <= 200 ? `id:${id}` : `id#${await sha256Hex(utf8(id))}`;
  const unsigned = async (event: string | null) =>
    `sha256:${await sha256Hex(concat(utf8(`${event ?? ""}\n`), req.body))}`;
  const shown = (id: string) => id.slice(0, 200);
  switch (provider) {
    case "github": {
      const event = h("x-github-event");
      const id = h("x-github-delivery") ?? `sha256:${await bodyHash()}`;
      const facts = { deliveryId: shown(id), key: await unsigned(event), event };
      if (event === "ping") return { ...facts, reply: { ping: "pong", zen: field("zen") } };
      return facts;
    }
    case "stripe": {
      const id = field("id") ?? `sha256:${await bodyHash()}`;
      return { deliveryId: shown(id), key: await signed(id), event: field("type") };
    }
    case "standard": {
      const id = h("webhook-id")!;
      return { deliveryId: shown(id), key: await signed(id), event: field("type") };
    }
    case "slack": {
      if (field("type") === "url_verification") {
        return {
          deliveryId: "",
          key: "",
          event: "url_verification",
          reply: { challenge: field("challenge") },
        };
      }
      const inner = (body as { event?: { type?: unknown } } | null)?.event?.type;
      const event = typeof inner === "string" ? inner : field("type") ?? field("command");
      const id = field("event_id") ?? field("trigger_id") ??
        `${h("x-slack-request-timestamp")}:${await bodyHash()}`;
      return { deliveryId: shown(id), key: await signed(id), event };
    }
    case "hmac":
    case "token": {
      const event = options.event_header ? h(options.event_header) : field("type");
      const id = (options.delivery_header ? h(options.delivery_header) : null) ||
        `sha256:${await bodyHash()}`;
      return { deliveryId: shown(id), key: await unsigned(event), event };
    }
  }
}
