/**
 * Authentication and scope checks as Hono middleware.
 *
 * `Authorization: Bearer <key>` (or `X-Edgeflow-Key: <key>`, for Supabase
 * functions whose gateway keeps `Authorization` for its own JWT). The
 * bootstrap `EDGEFLOW_ADMIN_KEY` is compared by hash in constant time; other
 * keys are looked up by their SHA-256 in the injected `KeyStore`. A lookup by
 * hash leaks timing about the hash only, which says nothing about the key.
 *
 * Missing, unknown, revoked or expired key → 401 with `WWW-Authenticate`;
 * a valid key without the route's scope → 403. Keys are never logged.
 *
 * A dashboard request without a key header may carry a signed-in session
 * instead (`shared/ui/session.ts` sets it as `session`; only dashboard and
 * event-stream routes look at the cookie, never the JSON API).
 *
 * Failed authentication is rate-limited per client (address from
 * `CF-Connecting-IP`, `X-Forwarded-For`, `X-Real-IP` or the socket): past
 * the limit (default 20 per minute) wrong keys get 429 with `Retry-After`.
 * Only failures are counted, so a valid key never pays a rate-limit lookup.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "./api_error.ts";
import {
  hashKey,
  isScope,
  KEY_PREFIX,
  type Scope,
  scopeAllows,
  timingSafeEqual,
} from "./api_keys.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import type { RateLimiter } from "../ratelimit/types.ts";

/** A key record as the database returns it (looked up by hash). */
export interface KeyRecord {
  id: string;
  name: string;
  scopes: string[];
  revoked?: boolean;
  /** When the key stops working; absent or null: never. */
  expires_at?: string | Date | null;
}

/** Where API keys live; implemented over SQL by the engine. */
export interface KeyStore {
  /** The key whose SHA-256 hex is `hash`, or null. */
  findByHash(hash: string): Promise<KeyRecord | null>;
}

/** Who is calling; set on the context as `principal`. */
export interface Principal {
  /** The key's id; null for the bootstrap admin key and for disabled auth. */
  id: string | null;
  name: string;
  scopes: Scope[];
}

/** Hono env fragment for routes behind `requireScope`: `c.get("principal")` is typed. */
export type AuthEnv = { Variables: { principal: Principal; session?: Principal } };

/** Dependencies of `createAuth`. */
export interface AuthOptions {
  /** The key store, or a function making one per request (Workers: no clients at module scope). */
  keys: KeyStore | ((c: Context) => KeyStore);
  /** `EDGEFLOW_ADMIN_KEY`, or a function reading it from the request's env bindings. */
  adminKey?: string | ((c: Context) => string | undefined);
  /** Local dev server only: every request is admin. Logged loudly at start. */
  authDisabled?: boolean;
  /** Where the disabled-auth warning goes (default: console). */
  log?: Logger;
  /** Clock for key expiry, in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Where failed attempts are counted (the rate-limit store); absent: not limited. */
  failures?: (c: Context) => RateLimiter;
  /** Failed attempts allowed per client per window (default 20 per 60 s). */
  failureLimit?: { limit: number; windowSeconds: number };
}

/** What `createAuth` returns. */
export interface Auth {
  /** Middleware admitting only callers whose key allows `scope` for this request's method. */
  requireScope(scope: Scope): MiddlewareHandler<AuthEnv>;
  /**
   * Count one failed authentication by this request's client (the dashboard's
   * sign-in form calls it); throws 429 once the client is past its limit.
   */
  recordFailure?(c: Context): Promise<void>;
}

/** Longer than any key we issue (55 characters), short enough to bound hashing work. */
const MAX_KEY_LENGTH = 128;
const REALM = 'Bearer realm="edgeflow"';
const DISABLED: Principal = { id: null, name: "auth-disabled", scopes: ["admin"] };
const BOOTSTRAP: Principal = { id: null, name: "EDGEFLOW_ADMIN_KEY", scopes: ["admin"] };

/** Builds the scope-checking middleware factory from its dependencies. */
export function createAuth(options: AuthOptions): Auth {
  const log = options.log ?? consoleLogger;
  const now = options.now ?? Date.now;
  if (options.authDisabled) {
    log("warn", "!!! AUTHENTICATION IS DISABLED: every request is treated as admin. !!!", {
      hint: "only the local dev server may run like this; never deploy with auth disabled",
    });
  }
  // The admin key's hash, computed once per distinct key value.
  let adminHash: { key: string; hash: Promise<string> } | undefined;
  const hashOfAdmin = (key: string) => {
    if (adminHash?.key !== key) adminHash = { key, hash: hashKey(key) };
    return adminHash.hash;
  };

  const failureLimit = options.failureLimit ?? { limit: 20, windowSeconds: 60 };
  async function recordFailure(c: Context): Promise<void> {
    if (!options.failures) return;
    let verdict;
    try {
      verdict = await options.failures(c).limit(
        `auth-fail:${clientAddress(c)}`,
        failureLimit.limit,
        failureLimit.windowSeconds,
      );
    } catch (err) {
      // The store being down must not turn a plain 401 into a 500: the refusal stands.
      log("warn", "could not count a failed authentication", { error: String(err) });
      return;
    }
    if (!verdict.ok) {
      throw ApiError.of(
        "rate_limited",
        "too many failed authentication attempts from this client; try again later",
        [],
        { retryAfter: verdict.retryAfterSeconds },
      );
    }
  }

  async function authenticate(c: Context): Promise<Principal> {
    const token = bearerToken(c);
    if (!token) {
      const session = c.get("session") as Principal | undefined;
      if (session) return session;
      throw unauthorized("an API key is required", false);
    }
    const hash = await hashKey(token);
    const adminKey = typeof options.adminKey === "function"
      ? options.adminKey(c)
      : options.adminKey;
    if (adminKey && timingSafeEqual(hash, await hashOfAdmin(adminKey))) return BOOTSTRAP;
    // Anything that is not one of our keys cannot be in the store: spare the database the trip.
    if (!token.startsWith(KEY_PREFIX) || token.length > MAX_KEY_LENGTH) {
      throw unauthorized("the API key is not valid", true);
    }
    const store = typeof options.keys === "function" ? options.keys(c) : options.keys;
    const record = await store.findByHash(hash);
    if (!record || record.revoked) throw unauthorized("the API key is not valid", true);
    if (record.expires_at != null && new Date(record.expires_at).getTime() <= now()) {
      throw unauthorized("the API key has expired", true);
    }
    return { id: record.id, name: record.name, scopes: record.scopes.filter(isScope) };
  }

  return {
    requireScope(scope) {
      return async (c, next) => {
        if (options.authDisabled) {
          c.header("X-Edgeflow-Auth", "disabled");
          c.set("principal", DISABLED);
          return await next();
        }
        let principal: Principal;
        try {
          principal = await authenticate(c);
        } catch (err) {
          // A key was presented and refused: count it (a missing key is not a guess).
          if (err instanceof ApiError && err.code === "unauthorized" && bearerToken(c)) {
            await recordFailure(c);
          }
          throw err;
        }
        if (!scopeAllows(principal.scopes, scope, c.req.method)) {
          throw ApiError.of("forbidden", `this key lacks the "${scope}" scope`, [], {
            headers: {
              "WWW-Authenticate": `${REALM}, error="insufficient_scope", scope="${scope}"`,
            },
          });
        }
        c.set("principal", principal);
        await next();
      };
    },
    recordFailure,
  };
}

/** The caller set by `requireScope`, if any. */
export function getPrincipal(c: Context): Principal | undefined {
  return c.get("principal") as Principal | undefined;
}

/** The key from `X-Edgeflow-Key` or `Authorization: Bearer` (scheme case-insensitive). */
function bearerToken(c: Context): string | undefined {
  const direct = c.req.header("X-Edgeflow-Key")?.trim();
  if (direct) return direct;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "");
  return match?.[1];
}

/**
 * The client's address for rate limiting: Cloudflare's `CF-Connecting-IP`
 * (set by the edge, not the client), then the first `X-Forwarded-For` hop
 * (Supabase's gateway and most proxies), `X-Real-IP`, then the socket's
 * address (Deno passes it as the env's `remoteAddr`). Behind no proxy, a
 * client can choose its `X-Forwarded-For`; the socket is the fallback only.
 */
export function clientAddress(c: Context): string {
  const forwarded = c.req.header("X-Forwarded-For")?.split(",")[0].trim();
  const remote = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr
    ?.hostname;
  return c.req.header("CF-Connecting-IP")?.trim() || forwarded || c.req.header("X-Real-IP") ||
    remote || "unknown";
}

function unauthorized(detail: string, invalidToken: boolean): ApiError {
  const challenge = invalidToken ? `${REALM}, error="invalid_token"` : REALM;
  return ApiError.of("unauthorized", detail, [], { headers: { "WWW-Authenticate": challenge } });
}
