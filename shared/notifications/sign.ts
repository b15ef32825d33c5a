/**
 * Signing outbound notifications the Standard Webhooks way
 * (https://www.standardwebhooks.com): `webhook-signature: v1,<base64
 * HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, the key being the base64
 * after `whsec_`. Web Crypto only; tests check it against the
 * `standardwebhooks` library and the specification's vector.
 */
import { concat, fromBase64, hmacSha256, toBase64, utf8 } from "../webhooks/crypto.ts";

/** The three Standard Webhooks headers for one attempt of message `id`. */
export async function standardHeaders(
  secret: string,
  id: string,
  at: Date,
  body: string,
): Promise<Record<string, string>> {
  const key = fromBase64(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  if (!key) throw new TypeError("a Standard Webhooks secret is whsec_ followed by base64");
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const mac = await hmacSha256(key, concat(utf8(`${id}.${timestamp}.`), utf8(body)));
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${toBase64(mac)}`,
  };
}
