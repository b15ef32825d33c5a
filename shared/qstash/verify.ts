/**
 * Proves that an inbound request really comes from QStash, on the raw body,
 * before anything parses it (style: authenticate before parsing).
 *
 * QStash signs every delivery with a JWT in `Upstash-Signature`: HS256 with
 * the account's signing key, `iss` "Upstash", `sub` the destination URL,
 * `nbf`/`exp`, and `body` = base64url(sha256(raw body)). `Receiver` from
 * `@upstash/qstash` checks all of that; it tries the current key first and the
 * next key second, so a key rotation in the console never drops deliveries.
 * We wrap it to get a typed result, a typed error and a Hono middleware.
 */
import { Receiver } from "@upstash/qstash";
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError, problemDocument } from "../http/problem.ts";

/** The two keys from the QStash console (`QSTASH_CURRENT_SIGNING_KEY`, `QSTASH_NEXT_SIGNING_KEY`). */
export interface SigningKeys {
  currentSigningKey: string;
  /** Optional: without it only the current key is accepted. */
  nextSigningKey?: string;
}

/** Options of {@link verifyQstashSignature}. */
export interface VerifyOptions extends SigningKeys {
  /**
   * The public URL QStash delivered to; when given, the JWT's `sub` must equal
   * it, so a message signed for one endpoint cannot be replayed at another.
   */
  url?: string;
  /** Seconds of clock skew tolerated on `nbf`/`exp` (default 5). */
  clockToleranceSeconds?: number;
}

/** A delivery whose signature checked out. */
export interface VerifiedDelivery {
  /** The raw body, exactly as signed; parse it only now. */
  body: string;
  /** `Upstash-Message-Id`: stable across retries, the key for duplicate suppression. */
  messageId: string | null;
  /** `Upstash-Retried`: how many earlier attempts QStash made (0 on the first). */
  retried: number;
  /** `Upstash-Schedule-Id` when the delivery was fired by a schedule. */
  scheduleId: string | null;
}

/** Why a request was refused. */
export type SignatureFailure = "missing_signature" | "invalid_signature";

/** A request that is not a genuine QStash delivery. Always a client error (401). */
export class SignatureError extends Error {
  /** Stable machine word for the problem document. */
  readonly code = "invalid_signature";
  constructor(readonly reason: SignatureFailure, message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

// Default skew: QStash sets nbf to the signing instant, and an edge isolate's
// clock a second behind would otherwise refuse a perfectly good delivery.
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

function assertKeys(keys: SigningKeys): void {
  // A missing key is our misconfiguration, not the caller's fault: fail loudly
  // instead of answering 401 forever (and never let Receiver fall back to env).
  if (!keys.currentSigningKey) {
    throw new TypeError("QStash verification needs a currentSigningKey");
  }
}

/**
 * Verify a QStash delivery given its headers and raw body text.
 * Resolves with the delivery metadata; rejects with {@link SignatureError}.
 */
export async function verifyQstashSignature(
  request: { headers: Headers; body: string },
  options: VerifyOptions,
): Promise<VerifiedDelivery> {
  assertKeys(options);
  const signature = request.headers.get("upstash-signature");
  if (!signature) {
    throw new SignatureError("missing_signature", "missing Upstash-Signature header");
  }
  const receiver = new Receiver({
    currentSigningKey: options.currentSigningKey,
    // Receiver falls back to the runtime environment when a key is missing; repeating the current
    // key keeps it on ours and simply means "no rotation in progress".
    nextSigningKey: options.nextSigningKey || options.currentSigningKey,
    devMode: false,
  });
  try {
    await receiver.verify({
      signature,
      body: request.body,
      url: options.url,
      clockTolerance: options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SignatureError("invalid_signature", message);
  }
  const retried = Number(request.headers.get("upstash-retried") ?? "0");
  return {
    body: request.body,
    messageId: request.headers.get("upstash-message-id"),
    retried: Number.isFinite(retried) ? retried : 0,
    scheduleId: request.headers.get("upstash-schedule-id"),
  };
}

/** What {@link qstashVerified} puts in the Hono context. */
export type QstashVariables = {
  /** The raw, verified body text. */
  qstashBody: string;
  /** `Upstash-Message-Id`, for duplicate suppression. */
  qstashMessageId: string | null;
  /** The whole verified delivery. */
  qstashDelivery: VerifiedDelivery;
};

/** Hono env of routes behind {@link qstashVerified}. */
export type QstashEnv = { Variables: QstashVariables };

/** Options of {@link qstashVerified}. */
export interface QstashVerifiedOptions extends SigningKeys {
  /** Public URL to match against `sub`: a string, or computed per request. Unset: not checked. */
  url?: string | ((c: Context) => string);
  /** Seconds of clock skew tolerated (default 5). */
  clockToleranceSeconds?: number;
  /** Render the refusal; default: a 401 `application/problem+json` document. */
  onInvalid?: (c: Context, error: SignatureError) => Response | Promise<Response>;
}

/**
 * Hono middleware that admits only genuine QStash deliveries. It reads the raw
 * body once (Hono caches it, so `c.req.json()` still works downstream), verifies
 * it, and stores body and message id with `c.set`; otherwise answers 401.
 */
export function qstashVerified(options: QstashVerifiedOptions): MiddlewareHandler<QstashEnv> {
  assertKeys(options);
  const onInvalid = options.onInvalid ?? invalidSignatureResponse;
  return createMiddleware<QstashEnv>(async (c, next) => {
    const body = await c.req.text();
    const url = typeof options.url === "function" ? options.url(c) : options.url;
    let delivery: VerifiedDelivery;
    try {
      delivery = await verifyQstashSignature({ headers: c.req.raw.headers, body }, {
        ...options,
        url,
      });
    } catch (error) {
      if (error instanceof SignatureError) return await onInvalid(c, error);
      throw error;
    }
    c.set("qstashBody", delivery.body);
    c.set("qstashMessageId", delivery.messageId);
    c.set("qstashDelivery", delivery);
    await next();
  });
}

/** The default refusal: an RFC 9457 problem document with code `invalid_signature`. */
export function invalidSignatureResponse(_c: Context, error: SignatureError): Response {
  // The same document every other error gets (absolute `type`, `errors`), from the one renderer.
  const problem = problemDocument(ApiError.of(error.code, error.message));
  return new Response(JSON.stringify(problem), {
    status: 401,
    headers: { "content-type": "application/problem+json" },
  });
}
