/**
 * `Sql` over postgres.js: Deno, Node and Cloudflare Workers (nodejs_compat).
 *
 * Single statements that Postgres aborted as a deadlock victim or for a
 * serialization failure are run again (at most 3 times): every engine
 * transition is one statement, so re-running it is safe. Inside `begin`
 * nothing is retried; the caller owns the transaction.
 *
 * A database that stops answering (frozen, black-holed, overloaded) must
 * not hang requests, so every wait is bounded:
 * - connecting, startup included, by `connectTimeoutMs` (5 s);
 * - a statement by `statementTimeoutMs` (15 s), enforced by the server
 *   (`statement_timeout`) and, should the server not answer at all, by the
 *   client one second later: the statement fails with
 *   `DatabaseUnavailableError` and the pool's connections, stuck behind the
 *   silent server, are replaced.
 * After such a failure (or a refused connection, or a failed `ping`) the
 * client counts the database as down: one statement at a time probes it
 * while the others fail at once (`503` + `Retry-After`) instead of queueing
 * behind it; the first answer closes the circuit again. Migrations (`exec`)
 * are not bounded by the client.
 */
import postgres from "postgres";
import { DatabaseUnavailableError, RETRYABLE_CODES, type Sql } from "./sql.ts";

/** Defaults of the timeouts (`EDGEFLOW_DB_CONNECT_TIMEOUT_MS`, `EDGEFLOW_DB_STATEMENT_TIMEOUT_MS`). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
/** How long past its statement timeout a statement may go unanswered before the server counts as gone. */
const SILENCE_GRACE_MS = 1_000;

export interface PostgresOptions {
  /** Pool size (default 10; use 1–5 per Worker isolate). */
  max?: number;
  /** Named prepared statements; turn off behind transaction poolers (default true). */
  prepare?: boolean;
  /** Seconds an idle connection stays open (default 20). */
  idleTimeout?: number;
  /** Milliseconds to wait for a usable connection, startup included (default 5,000). */
  connectTimeoutMs?: number;
  /** Milliseconds a statement may run (default 15,000; 0: unbounded). */
  statementTimeoutMs?: number;
  /**
   * Send `statement_timeout` to the server as a startup parameter (default
   * true). Off behind poolers that refuse unknown startup parameters; the
   * client-side bound still applies.
   */
  serverStatementTimeout?: boolean;
  /**
   * Behind a transaction pooler (pgbouncer `pool_mode = transaction`,
   * Supavisor's port 6543): implies `prepare: false` and
   * `serverStatementTimeout: false` (shared/db/database_url.ts decides it).
   */
  pooled?: boolean;
}

/** Timeouts from the environment (milliseconds; unset or invalid: the defaults). */
export function postgresTimeoutsFromEnv(
  env: Record<string, unknown>,
): Pick<PostgresOptions, "connectTimeoutMs" | "statementTimeoutMs"> {
  const ms = (v: unknown, d: number) => {
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    return Number.isInteger(n) && n >= 0 ? n : d;
  };
  return {
    connectTimeoutMs: ms(env.EDGEFLOW_DB_CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS) ||
      DEFAULT_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: ms(env.EDGEFLOW_DB_STATEMENT_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS),
  };
}

/** Driver errors that mean "the server cannot be reached", as opposed to "it refused the statement". */
const UNREACHABLE = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "DATABASE_UNAVAILABLE",
]);

const unreachable = (err: unknown) =>
  UNREACHABLE.has(String((err as { code?: unknown })?.code)) ||
  /ConnectionRefused|ConnectionReset|TimedOut/.test(String((err as Error)?.name));

type Pg = postgres.Sql | postgres.TransactionSql;

/** What every wrapper of one client shares: the current pool and the circuit. */
interface Shared {
  pool: postgres.Sql;
  statementTimeoutMs: number;
  /** Replace the pool's connections (they wait on a server that does not answer). */
  reset(): void;
  /** Statements failed for want of an answer; the next one probes. */
  down: boolean;
  probing: boolean;
}

/** Connect to Postgres at `url`. Connections open lazily, on the first query. */
export function postgresSql(url: string, options: PostgresOptions = {}): Sql {
  if (options.pooled) options = { ...options, prepare: false, serverStatementTimeout: false };
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const connection: Record<string, string | number> = {
    TimeZone: "UTC",
    application_name: "edgeflow",
  };
  if (statementTimeoutMs > 0 && options.serverStatementTimeout !== false) {
    connection.statement_timeout = statementTimeoutMs;
  }
  const open = () =>
    postgres(url, {
      max: options.max ?? 10,
      prepare: options.prepare ?? true,
      idle_timeout: options.idleTimeout ?? 20,
      connect_timeout: (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000,
      onnotice: () => {},
      // Reconnect quickly after a restart (the default backs off towards ~20 s).
      backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
      connection,
    });
  const shared: Shared = {
    pool: open(),
    statementTimeoutMs,
    down: false,
    probing: false,
    reset() {
      const stuck = shared.pool;
      shared.pool = open();
      // Statements still waiting on the old connections fail now (503) rather than one by one.
      void stuck.end({ timeout: 0 }).catch(() => {});
    },
  };
  const sql = wrap(shared, null, () => shared.pool.end({ timeout: 5 }));
  if (options.pooled) Object.assign(sql, { pooled: true });
  return sql;
}

/** `p`, or a `DatabaseUnavailableError` once `ms` have passed without an answer. */
async function bounded<T>(p: Promise<T>, ms: number, onSilence: () => void): Promise<T> {
  if (ms <= 0) return await p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onSilence();
      reject(new DatabaseUnavailableError(`the database gave no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, silence]);
  } finally {
    clearTimeout(timer);
  }
}

function wrap(shared: Shared, tx: postgres.TransactionSql | null, end: () => Promise<void>): Sql {
  const limit = shared.statementTimeoutMs > 0 ? shared.statementTimeoutMs + SILENCE_GRACE_MS : 0;
  const once = <T>(strings: TemplateStringsArray, values: unknown[]): Promise<T[]> => {
    const pg: Pg = tx ?? shared.pool;
    // deno-lint-ignore no-explicit-any
    const query = (pg as any)(strings, ...values) as Promise<T[]>;
    return bounded(query, limit, () => shared.reset());
  };
  const retried = async <T>(strings: TemplateStringsArray, values: unknown[]): Promise<T[]> => {
    for (let attempt = 1;; attempt++) {
      try {
        return await once<T>(strings, values);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (tx || attempt >= 3 || !code || !RETRYABLE_CODES.has(code)) throw err;
      }
    }
  };
  const run = async <T>(strings: TemplateStringsArray, values: unknown[]): Promise<T[]> => {
    if (shared.down && shared.probing) {
      throw new DatabaseUnavailableError("the database is not answering; retry shortly");
    }
    const probe = shared.down;
    if (probe) shared.probing = true;
    try {
      const rows = await retried<T>(strings, values);
      shared.down = false;
      return rows;
    } catch (err) {
      if (unreachable(err)) shared.down = true;
      throw err;
    } finally {
      if (probe) shared.probing = false;
    }
  };
  const sql =
    (<T>(strings: TemplateStringsArray, ...values: unknown[]) => run<T>(strings, values)) as Sql;
  Object.assign(sql, {
    driver: "postgres" as const,
    begin: <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (tx) return fn(sql);
      if (shared.down && shared.probing) {
        return Promise.reject(
          new DatabaseUnavailableError("the database is not answering; retry shortly"),
        );
      }
      return shared.pool.begin((t) => fn(wrap(shared, t, end))) as Promise<T>;
    },
    exec: async (script: string) => {
      await (tx ?? shared.pool).unsafe(script);
    },
    ping: (timeoutMs: number): Promise<boolean> => {
      if (shared.down && shared.probing) return Promise.resolve(false);
      // The ping is the probe until its answer comes, however late: while the
      // server stays silent every statement fails at once, and the answer
      // (say after SIGCONT) closes the circuit by itself.
      shared.probing = true;
      const answered = bounded(
        shared.pool`select 1`,
        limit || DEFAULT_STATEMENT_TIMEOUT_MS + SILENCE_GRACE_MS,
        () => shared.reset(),
      ).then(
        () => (shared.down = false, true),
        () => (shared.down = true, false),
      ).finally(() => (shared.probing = false));
      return bounded(answered, timeoutMs, () => (shared.down = true)).catch(() => false);
    },
    end,
  });
  return sql;
}
