/**
 * API keys: format, hashing, constant-time comparison and scopes.
 *
 * Keys are `ef_` + 52 base32 characters (32 random bytes). Only their
 * SHA-256 is stored: a slow password hash (bcrypt, scrypt) protects
 * low-entropy secrets chosen by people, but a 256-bit random key cannot be
 * guessed, and a fast hash keeps authentication to one digest per request,
 * which matters at 5,000 heartbeats/s.
 */
import { sha256HexSync } from "./sha256.ts";

/** Every scope a key can hold (product.md). `admin` implies all; `read` allows GET/HEAD only. */
export const SCOPES = ["admin", "register", "deploy", "trigger", "worker", "read"] as const;

/** One key scope. */
export type Scope = (typeof SCOPES)[number];

/** Prefix of every key edgeflow issues; it lets secret scanners recognise leaked keys. */
export const KEY_PREFIX = "ef_";

/** How many characters of a key are kept in clear (`prefix`) to tell keys apart in listings. */
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 8;

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const encoder = new TextEncoder();

/** A freshly generated key: show `key` once, store `hash` and `prefix`. */
export interface GeneratedKey {
  /** The secret, e.g. `ef_mfrggzdfmztwq2lk…`; never stored or logged. */
  key: string;
  /** SHA-256 of the key, lower-case hex: what the database keeps. */
  hash: string;
  /** The first characters (`ef_` + 8), safe to display. */
  prefix: string;
}

/** Makes a new random key with 256 bits of entropy from `crypto.getRandomValues`. */
export async function generateKey(): Promise<GeneratedKey> {
  const key = KEY_PREFIX + base32(crypto.getRandomValues(new Uint8Array(32)));
  return { key, hash: await hashKey(key), prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

/**
 * SHA-256 of a key as 64 lower-case hex characters. Plain JavaScript, not Web
 * Crypto: `crypto.subtle.digest` was 23 % of the server's busy time under
 * heartbeat load (sha256.ts has the figures).
 */
export function hashKey(key: string): Promise<string> {
  return Promise.resolve(sha256HexSync(encoder.encode(key)));
}

/**
 * Compares two strings in time that depends only on their lengths, not on
 * where they first differ. Compare hashes (always 64 characters) so even the
 * length reveals nothing about the secret.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) {
    // Reading past the end yields NaN, which `| 0` turns into 0: the loop still runs every step.
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/**
 * Whether a key with `scopes` may call a route that requires `required`
 * with HTTP `method`. `admin` may do anything; `read` may do any GET/HEAD
 * (and nothing else, even on a route guarded by `read`); any other scope
 * must match the route's scope exactly.
 */
export function scopeAllows(scopes: readonly string[], required: Scope, method: string): boolean {
  if (scopes.includes("admin")) return true;
  const safe = method === "GET" || method === "HEAD";
  if (safe && scopes.includes("read")) return true;
  return required !== "read" && required !== "admin" && scopes.includes(required);
}

/** Whether `value` is one of the known scopes. */
export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** RFC 4648 base32, lower case, no padding. */
function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff; // only the unread bits (< 13) matter
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}
