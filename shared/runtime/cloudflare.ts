/**
 * Cloudflare Workers glue. A Worker may not reuse a socket across requests,
 * so each request gets its own postgres.js client (cheap behind Hyperdrive,
 * which pools the real connections), closed once the response is sent.
 */
import type { Context, Hono } from "hono";
import { createApp } from "../app/app.ts";
import type { AppDeps, AppEnv } from "../app/deps.ts";
import { configFromEnv } from "../app/deps.ts";
import { consoleLogger } from "../http/logger.ts";
import { postgresSql, postgresTimeoutsFromEnv } from "../db/postgres.ts";
import type { Sql } from "../db/sql.ts";
import { originalRequest } from "../http/body.ts";

export interface WorkerEnv {
  HYPERDRIVE?: { connectionString: string };
  DATABASE_URL?: string;
  [key: string]: unknown;
}

interface Executor {
  waitUntil(promise: Promise<unknown>): void;
}

function databaseUrl(env: WorkerEnv): string {
  const url = env.HYPERDRIVE?.connectionString ?? env.DATABASE_URL;
  if (!url) throw new Error("no database: bind HYPERDRIVE or set DATABASE_URL");
  return url;
}

/** A client for one request or one scheduled event. */
export function requestSql(env: WorkerEnv): Sql {
  // Hyperdrive pools and caches prepared statements itself; a direct URL may be a pooler.
  // Poolers may refuse a `statement_timeout` startup parameter: the client bounds statements.
  return postgresSql(databaseUrl(env), {
    max: 2,
    prepare: !!env.HYPERDRIVE,
    serverStatementTimeout: false,
    ...postgresTimeoutsFromEnv(env),
  });
}

/**
 * The request's client and the work that still needs it, keyed by the request
 * the runtime handed us (`originalRequest`: a request keyed by anything else
 * that read its body could open a second client nobody closed).
 */
const clients = new WeakMap<Request, Sql>();
const pending = new WeakMap<Request, Promise<unknown>[]>();

/** AppDeps whose `sql(c)` is the request's own client. */
export function workerDeps(env: WorkerEnv): AppDeps {
  const strings = Object.fromEntries(
    Object.entries(env).filter(([, v]) => typeof v === "string"),
  ) as Record<string, string>;
  return {
    sql: (c: Context) => {
      const request = originalRequest(c);
      let sql = clients.get(request);
      if (!sql) {
        sql = requestSql(env);
        clients.set(request, sql);
      }
      return sql;
    },
    config: configFromEnv(strings),
    log: consoleLogger,
    keepUntil: (c: Context, work: Promise<unknown>) => {
      const request = originalRequest(c);
      pending.set(request, [...(pending.get(request) ?? []), work]);
    },
    // waitUntil with a client of its own: the request's client is closed with the response.
    background: (c, task) => {
      const sql = requestSql(env);
      c.executionCtx.waitUntil(
        task(sql)
          .catch((err) => consoleLogger("warn", "background task failed", { error: String(err) }))
          .finally(() => sql.end()),
      );
    },
  };
}

const apps = new WeakMap<WorkerEnv, Hono<AppEnv>>();

/**
 * The app for an isolate, built on its first request and reused: routing tables, schemas and the
 * config are built once per `env` binding (the same object for every request of an isolate), and
 * hold no connection — each request still gets its own client from `workerDeps`.
 */
export function workerApp(env: WorkerEnv): Hono<AppEnv> {
  let app = apps.get(env);
  if (!app) {
    app = createApp(workerDeps(env));
    apps.set(env, app);
  }
  return app;
}

/** Close the request's client after the response has gone out. */
export function releaseRequest(request: Request, ctx: Executor): void {
  const sql = clients.get(request);
  const work = pending.get(request) ?? [];
  if (work.length) ctx.waitUntil(Promise.allSettled(work).then(() => sql?.end()));
  else if (sql) ctx.waitUntil(sql.end());
}
