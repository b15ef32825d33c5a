/**
 * `Sql` over postgres.js: Deno, Node and Cloudflare Workers (nodejs_compat).
 *
 * Single statements that Postgres aborted as a deadlock victim or for a
 * serialization failure are run again (at most 3 times): every engine
 * transition is one statement, so re-running it is safe. Inside `begin`
 * nothing is retried; the caller owns the transaction.
 */
import postgres from "postgres";
import { RETRYABLE_CODES, type Sql } from "./sql.ts";

export interface PostgresOptions {
  /** Pool size (default 10; use 1–5 per Worker isolate). */
  max?: number;
  /** Named prepared statements; turn off behind transaction poolers (default true). */
  prepare?: boolean;
  /** Seconds an idle connection stays open (default 20). */
  idleTimeout?: number;
  /** Seconds to wait for a connection (default 10). */
  connectTimeout?: number;
}

type Pg = postgres.Sql | postgres.TransactionSql;

/** Connect to Postgres at `url`. Connections open lazily, on the first query. */
export function postgresSql(url: string, options: PostgresOptions = {}): Sql {
  const pg = postgres(url, {
    max: options.max ?? 10,
    prepare: options.prepare ?? true,
    idle_timeout: options.idleTimeout ?? 20,
    connect_timeout: options.connectTimeout ?? 10,
    onnotice: () => {},
    // Reconnect quickly after a restart (the default backs off towards ~20 s).
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    connection: { TimeZone: "UTC", application_name: "edgeflow" },
  });
  return wrap(pg, false, () => pg.end({ timeout: 5 }));
}

function wrap(pg: Pg, inTransaction: boolean, end: () => Promise<void>): Sql {
  const run = async <T>(strings: TemplateStringsArray, values: unknown[]): Promise<T[]> => {
    for (let attempt = 1;; attempt++) {
      try {
        // deno-lint-ignore no-explicit-any
        return (await (pg as any)(strings, ...values)) as T[];
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (inTransaction || attempt >= 3 || !code || !RETRYABLE_CODES.has(code)) throw err;
      }
    }
  };
  const sql =
    (<T>(strings: TemplateStringsArray, ...values: unknown[]) => run<T>(strings, values)) as Sql;
  Object.assign(sql, {
    driver: "postgres" as const,
    begin: <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (inTransaction) return fn(sql);
      return (pg as postgres.Sql).begin((tx) => fn(wrap(tx, true, end))) as Promise<T>;
    },
    exec: async (script: string) => {
      await pg.unsafe(script);
    },
    end,
  });
  return sql;
}
