/**
 * Rate limiting and duplicate suppression of triggers, before a run is made:
 *
 * - per API key (`triggerKeyRateLimit`): every trigger request counts;
 * - per deployment, or per flow for ad hoc runs (`triggerRateLimit`): every
 *   request that could start a run counts. A retry of an accepted request
 *   (same `Idempotency-Key`, its run exists) does not: it starts no run, and
 *   a webhook sender retrying after a timeout must get its run back, not a
 *   429. The duplicate guard (Redis `SET NX`) spots retries in one round
 *   trip; Postgres confirms the run exists before the budget is skipped, so
 *   a request refused earlier cannot slip past the limit by being repeated.
 *
 * Refusals are `429 rate_limited` with `Retry-After`. Redis answers when
 * configured; Postgres when it is not, or does not answer (stores.ts).
 * Postgres' unique index on (scope, key) is what guarantees one run per
 * Idempotency-Key; this guard only decides what counts against a budget.
 * With no limit configured the guard does nothing at all.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Sql } from "../db/sql.ts";
import { ApiError } from "../http/problem.ts";
import { triggerStores } from "../ratelimit/stores.ts";
import type { RateLimitResult } from "../ratelimit/types.ts";

/** The Idempotency-Key shape trigger_routes.ts accepts; others are refused there. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const DEFAULT_DUPLICATE_TTL = 86_400;

/** Middleware for `POST /trigger/:deployment` and `POST /trigger/flows/:flow`. */
export interface TriggerGuard {
  deployment: MiddlewareHandler<AppEnv>;
  flow: MiddlewareHandler<AppEnv>;
}

function refuse(result: RateLimitResult, what: string): void {
  if (result.ok) return;
  throw ApiError.of(
    "rate_limited",
    `too many triggers for ${what}; retry in ${result.retryAfterSeconds} s`,
    [],
    { retryAfter: result.retryAfterSeconds },
  );
}

async function runExists(sql: Sql, scope: string, key: string): Promise<boolean> {
  const rows = await sql`
    select 1 from edgeflow.runs where idempotency_scope = ${scope} and idempotency_key = ${key}`;
  return rows.length > 0;
}

/** Build the guard once per app (it holds the Redis client and its cooldown). */
export function triggerGuard(deps: AppDeps): TriggerGuard {
  const perTarget = deps.config.triggerRateLimit;
  const perKey = deps.config.triggerKeyRateLimit;
  if (!perTarget && !perKey) {
    const pass: MiddlewareHandler<AppEnv> = async (_c, next) => await next();
    return { deployment: pass, flow: pass };
  }
  const stores = triggerStores({ redis: deps.config.redis, log: deps.log });
  const ttl = deps.config.duplicateTtlSeconds ?? DEFAULT_DUPLICATE_TTL;

  const guard =
    (kind: "deployment" | "flow", param: string): MiddlewareHandler<AppEnv> =>
    async (c: Context<AppEnv>, next) => {
      const sql = deps.sql(c);
      const { limiter, guard } = stores(sql);
      if (perKey) {
        const principal = c.get("principal");
        const who = principal.id ?? `name:${principal.name}`;
        refuse(
          await limiter.limit(`trigger:key:${who}`, perKey.limit, perKey.windowSeconds),
          "this API key",
        );
      }
      if (perTarget) {
        // The scope trigger_routes.ts gives the run's idempotency key.
        const scope = `${kind}:${c.req.param(param)}`;
        const key = c.req.header("Idempotency-Key");
        const retry = key !== undefined && IDEMPOTENCY_KEY.test(key) &&
          !(await guard.firstSeen(`trigger:${scope}:${key}`, ttl)) &&
          await runExists(sql, scope, key);
        if (!retry) {
          refuse(
            await limiter.limit(`trigger:${scope}`, perTarget.limit, perTarget.windowSeconds),
            `${kind} ${c.req.param(param)}`,
          );
        }
      }
      await next();
    };
  return { deployment: guard("deployment", "deployment"), flow: guard("flow", "flow") };
}
