/**
 * The few byte operations webhook signatures need, on Web Crypto only (every
 * runtime has it): HMAC-SHA256 signing and constant-time verification, hex
 * and base64 codecs that refuse malformed input instead of guessing.
 *
 * Verification goes through `crypto.subtle.verify`, which compares the MACs
 * in constant time inside the runtime's crypto library; only the lengths
 * (public: 32 bytes for SHA-256) are compared in JavaScript.
 */

const encoder = new TextEncoder();

/** Bytes of a string, UTF-8. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Concatenation of byte arrays (signed payloads are `prefix + body`, never re-encoded text). */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** An HMAC-SHA256 key for signing and verifying. */
export function hmacKey(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/** HMAC-SHA256 of `data` under `secret`. */
export async function hmacSha256(
  secret: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), data));
}

/** Does `mac` authenticate `data` under any of `secrets`? Constant-time per secret. */
export async function verifyHmac(
  secrets: Uint8Array<ArrayBuffer>[],
  data: Uint8Array<ArrayBuffer>,
  mac: Uint8Array<ArrayBuffer> | null,
): Promise<boolean> {
  if (!mac || mac.byteLength !== 32) return false;
  let ok = false;
  // Every secret is tried, matched or not: the time taken says nothing about which one matched.
  for (const secret of secrets) {
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, data)) ok = true;
  }
  return ok;
}

/** Constant-time equality of two strings (compared as SHA-256 digests: equal lengths always). */
export async function timingSafeEqualText(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", utf8(a)),
    crypto.subtle.digest("SHA-256", utf8(b)),
  ]);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i] ^ v[i];
  return diff === 0;
}

/** SHA-256 of bytes as lower-case hex (a delivery id for senders that give none). */
export async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string, or null when it is not hex of whole bytes. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of standard (or URL-safe) base64, or null when it is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  const std = text.replaceAll("-", "+").replaceAll("_", "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std)) return null;
  try {
    const bin = atob(std);
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}
