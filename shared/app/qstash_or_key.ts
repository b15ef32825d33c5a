/**
 * The gate of a route QStash calls back: a request carrying
 * `Upstash-Signature` is checked against the signing keys (and the public
 * URL, where one is configured); any other request needs an API key with
 * `scope`. Without signing keys, only the key works.
 */
import type { MiddlewareHandler } from "hono";
import { qstashVerified } from "../qstash/verify.ts";
import type { AppDeps } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import type { Scope } from "../http/api_keys.ts";

export function qstashOrKey(deps: AppDeps, auth: Auth, scope: Scope): MiddlewareHandler {
  const qstash = deps.config.qstash;
  const base = deps.config.publicUrl?.replace(/\/+$/, "");
  const signed = qstash?.currentSigningKey
    ? qstashVerified({
      currentSigningKey: qstash.currentSigningKey,
      nextSigningKey: qstash.nextSigningKey || undefined,
      url: base ? (c) => `${base}${c.req.path}` : undefined,
    })
    : null;
  const keyed = auth.requireScope(scope);
  return (c, next) =>
    signed && c.req.header("upstash-signature")
      ? signed(c as never, next)
      : keyed(c as never, next);
}
