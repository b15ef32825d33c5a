/**
 * Dashboard sign-in: the API key lives in an HttpOnly cookie, and requests
 * that carry no key header get the cookie's key handed to the ordinary auth
 * middleware (`shared/http/auth.ts`), so one code path checks every key.
 *
 * CSRF: the cookie is `SameSite=Strict`, so no other site's page can make the
 * browser send it; on top of that every dashboard POST must come from our own
 * origin (`Origin`, which browsers send with every form POST).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Sql } from "../db/sql.ts";
import { hashKey, isScope, KEY_PREFIX, type Scope, timingSafeEqual } from "../http/api_keys.ts";
import { ApiError } from "../http/problem.ts";
import { sqlKeyStore } from "../app/key_store.ts";

/** Name of the cookie holding the signed-in key. */
export const KEY_COOKIE = "edgeflow_key";

/** A signed-in session lasts a working day; the key itself may expire sooner. */
const SESSION_SECONDS = 12 * 3600;

/**
 * Middleware: when the request has neither `Authorization` nor
 * `X-Edgeflow-Key`, present the cookie's key as `X-Edgeflow-Key`, which the
 * auth middleware reads first. A header always wins over the cookie.
 */
export function keyFromCookie(): MiddlewareHandler {
  return async (c, next) => {
    const key = getCookie(c, KEY_COOKIE);
    if (key && !c.req.header("Authorization") && !c.req.header("X-Edgeflow-Key")) {
      const raw = c.req.raw;
      const headers = new Headers(raw.headers);
      headers.set("X-Edgeflow-Key", key);
      // Not `new Request(raw, …)`: that would copy (and so touch) the request's abort signal.
      const init: RequestInit & { duplex?: "half" } = { method: raw.method, headers };
      if (raw.body) Object.assign(init, { body: raw.body, duplex: "half" });
      c.req.raw = new Request(raw.url, init);
    }
    await next();
  };
}

/** Who a key belongs to and what it may do, or null when it is not a valid key. */
export async function checkKey(
  sql: Sql,
  key: string,
  adminKey: string | undefined,
  now = Date.now(),
): Promise<{ name: string; scopes: Scope[] } | null> {
  if (!key || key.length > 128) return null;
  const hash = await hashKey(key);
  if (adminKey && timingSafeEqual(hash, await hashKey(adminKey))) {
    return { name: "EDGEFLOW_ADMIN_KEY", scopes: ["admin"] };
  }
  if (!key.startsWith(KEY_PREFIX)) return null;
  const record = await sqlKeyStore(sql).findByHash(hash);
  if (!record || record.revoked) return null;
  if (record.expires_at != null && new Date(record.expires_at).getTime() <= now) return null;
  return { name: record.name, scopes: record.scopes.filter(isScope) };
}

/** Keep `key` in the session cookie (Secure when the request came over https). */
export function startSession(c: Context, key: string): void {
  setCookie(c, KEY_COOKIE, key, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: isHttps(c),
    maxAge: SESSION_SECONDS,
  });
}

/** Forget the session cookie. */
export function endSession(c: Context): void {
  deleteCookie(c, KEY_COOKIE, { path: "/", secure: isHttps(c) });
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" ||
    c.req.header("X-Forwarded-Proto")?.split(",")[0].trim() === "https";
}

/**
 * Middleware refusing a state-changing request whose `Origin` is not ours.
 * Requests without `Origin` are not from a browser form (browsers always send
 * it on POST), so they cannot be cross-site forgeries; they still need a key.
 */
export function sameOrigin(publicUrl?: string): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header("Origin");
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && origin !== undefined) {
      const url = new URL(c.req.url);
      const host = c.req.header("X-Forwarded-Host") ?? c.req.header("Host");
      const proto = c.req.header("X-Forwarded-Proto")?.split(",")[0].trim();
      const ours = new Set([url.origin]);
      if (host) ours.add(`${proto ?? url.protocol.slice(0, -1)}://${host}`);
      if (publicUrl) ours.add(new URL(publicUrl).origin);
      if (!ours.has(origin)) {
        throw ApiError.of("forbidden", "this form was posted from another site");
      }
    }
    await next();
  };
}

/** A path inside the dashboard to return to after sign-in; anything else goes home. */
export function safeNext(next: string | undefined, base: string): string {
  if (!next || !next.startsWith(`${base}/`) || next.startsWith("//") || /[\\\r\n]/.test(next)) {
    return `${base}/runs`;
  }
  return next;
}
