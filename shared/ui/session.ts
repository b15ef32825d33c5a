/**
 * Dashboard sessions. Signing in checks the API key once; the browser then
 * holds a random session token in an HttpOnly cookie, never the key. Only
 * the token's SHA-256 is stored (`edgeflow.ui_sessions`, migration 0066), with
 * the key it stands for, so:
 * - a session lasts 12 hours from sign-in (fixed, not sliding: a page view
 *   writes nothing), or less when the key expires sooner;
 * - signing out deletes the row, so a replayed cookie gets the sign-in page;
 * - revoking or expiring the key ends its sessions (the lookup joins the key);
 * - rotating `EDGEFLOW_ADMIN_KEY` ends the sessions signed in with the old one.
 *
 * Requests that carry no key header get the session's caller handed to the
 * ordinary auth middleware (`shared/http/auth.ts`, as `session`); a header
 * always wins over the cookie.
 *
 * CSRF: the cookie is `SameSite=Strict`, so no other site's page can make the
 * browser send it; on top of that every dashboard POST must come from our own
 * origin (`Origin`, which browsers send with every form POST).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppDeps } from "../app/deps.ts";
import type { Sql } from "../db/sql.ts";
import type { Principal } from "../http/auth.ts";
import { hashKey, isScope, KEY_PREFIX, timingSafeEqual } from "../http/api_keys.ts";
import { ApiError } from "../http/problem.ts";
import { sqlKeyStore } from "../app/key_store.ts";

/** Name of the cookie holding the session token. */
export const SESSION_COOKIE = "edgeflow_session";

/** A signed-in session lasts a working day; the key itself may expire sooner. */
export const SESSION_SECONDS = 12 * 3600;

/** Who signed in: a stored key (`id`) or the bootstrap admin key (`id` null). */
export type SignedIn = Principal;

const clock = (deps: AppDeps) => (deps.now ?? (() => new Date()))();

/**
 * Middleware: when the request has neither `Authorization` nor
 * `X-Edgeflow-Key` and carries a live session cookie, set its caller as
 * `session` for the auth middleware. A dead cookie is ignored (→ sign-in).
 */
export function sessionFromCookie(deps: AppDeps): MiddlewareHandler {
  return async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token && !c.req.header("Authorization") && !c.req.header("X-Edgeflow-Key")) {
      const who = await findSession(deps.sql(c), token, deps.config.adminKey, clock(deps));
      if (who) c.set("session", who);
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
): Promise<SignedIn | null> {
  if (!key || key.length > 128) return null;
  const hash = await hashKey(key);
  if (adminKey && timingSafeEqual(hash, await hashKey(adminKey))) {
    return { id: null, name: "EDGEFLOW_ADMIN_KEY", scopes: ["admin"] };
  }
  if (!key.startsWith(KEY_PREFIX)) return null;
  const record = await sqlKeyStore(sql, () => now).findByHash(hash);
  if (!record || record.revoked) return null;
  if (record.expires_at != null && new Date(record.expires_at).getTime() <= now) return null;
  return { id: record.id, name: record.name, scopes: record.scopes.filter(isScope) };
}

/** A new random session token: `efs_` + 64 hex characters (256 bits). */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return "efs_" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Store a session for `who` and set its cookie (Secure when the request came over https). */
export async function startSession(
  c: Context,
  sql: Sql,
  who: SignedIn,
  adminKey: string | undefined,
  now: Date,
): Promise<void> {
  const token = newToken();
  const expires = new Date(now.getTime() + SESSION_SECONDS * 1000);
  const adminHash = who.id === null && adminKey ? await hashKey(adminKey) : null;
  // Sign-in is rare: a good moment to drop sessions that ended by themselves.
  await sql`delete from edgeflow.ui_sessions where expires_at <= ${now.toISOString()}::timestamptz`;
  await sql`
    insert into edgeflow.ui_sessions (hash, key_id, admin_key_hash, created_at, expires_at)
    values (${await hashKey(token)}, ${who.id}::uuid, ${adminHash},
            ${now.toISOString()}::timestamptz, ${expires.toISOString()}::timestamptz)`;
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: isHttps(c),
    maxAge: SESSION_SECONDS,
  });
}

/** The live session of `token` at `now`, or null (unknown, signed out, expired, key revoked). */
export async function findSession(
  sql: Sql,
  token: string,
  adminKey: string | undefined,
  now: Date,
): Promise<SignedIn | null> {
  if (!token.startsWith("efs_") || token.length !== 68) return null;
  const at = now.toISOString();
  const [row] = await sql<{
    key_id: string | null;
    admin_key_hash: string | null;
    name: string | null;
    scopes: string[] | null;
  }>`
    select s.key_id, s.admin_key_hash, k.name, k.scopes
      from edgeflow.ui_sessions s
      left join edgeflow.api_keys k on k.id = s.key_id
     where s.hash = ${await hashKey(token)} and s.expires_at > ${at}::timestamptz
       and (s.key_id is null or
            (not k.revoked and (k.expires_at is null or k.expires_at > ${at}::timestamptz)))`;
  if (!row) return null;
  if (row.key_id !== null) {
    return { id: row.key_id, name: row.name ?? "", scopes: (row.scopes ?? []).filter(isScope) };
  }
  // The bootstrap admin key: only while it is still the key it signed in with.
  if (!adminKey || !row.admin_key_hash) return null;
  if (!timingSafeEqual(row.admin_key_hash, await hashKey(adminKey))) return null;
  return { id: null, name: "EDGEFLOW_ADMIN_KEY", scopes: ["admin"] };
}

/** Sign out: delete the cookie's session (so a replayed cookie is refused) and the cookie. */
export async function endSession(c: Context, sql: Sql): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token) {
    await sql`delete from edgeflow.ui_sessions where hash = ${await hashKey(token)}`;
  }
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: isHttps(c) });
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
