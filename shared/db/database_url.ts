/**
 * Which Postgres to use, read from an environment (passed in: no globals
 * here), and whether it sits behind a transaction pooler.
 *
 * - Functions: `DATABASE_URL`, else Supabase's own `SUPABASE_DB_URL`.
 * - Migrations: `EDGEFLOW_DIRECT_URL`, else whichever of those is direct.
 *   A migration through a transaction pooler is refused: it is one long
 *   transaction of DDL, `create extension` included, that a pooler in
 *   `pool_mode = transaction` may split from the session it needs.
 *
 * A URL counts as pooled (Supavisor's port 6543, pgbouncer in transaction
 * mode) when `EDGEFLOW_DB_POOLER=transaction` (or `1`/`true`), when it
 * carries `?pgbouncer=true` (Prisma's flag; removed before connecting, since
 * Postgres would refuse it as a startup parameter), or when its port is 6543
 * (Supabase's transaction pooler). `EDGEFLOW_DB_POOLER=off` says "direct"
 * whatever the URL looks like. Behind a pooler the client sends no named
 * prepared statements and no startup `statement_timeout` (pgbouncer refuses
 * unknown startup parameters); everything else edgeflow does is already
 * transaction-scoped (`pg_advisory_xact_lock`, `set local`, no LISTEN).
 */

/** Supavisor's transaction-mode port on Supabase. */
export const SUPAVISOR_TRANSACTION_PORT = "6543";

export interface DatabaseTarget {
  /** The URL to connect to (without our `pgbouncer` flag). */
  url: string;
  /** Behind a transaction pooler. */
  pooled: boolean;
  /** The variable it came from. */
  source: "DATABASE_URL" | "SUPABASE_DB_URL" | "EDGEFLOW_DIRECT_URL";
}

type Env = Record<string, string | undefined>;

/** `url` classified (and cleaned) under the environment's `EDGEFLOW_DB_POOLER`. */
export function classifyUrl(
  url: string,
  source: DatabaseTarget["source"],
  env: Env = {},
): DatabaseTarget {
  const mode = (env.EDGEFLOW_DB_POOLER ?? "").trim().toLowerCase();
  let flagged = false;
  let port = "";
  let clean = url;
  try {
    const parsed = new URL(url);
    port = parsed.port;
    const flag = parsed.searchParams.get("pgbouncer");
    if (flag !== null) {
      flagged = flag === "" || flag === "true" || flag === "1";
      parsed.searchParams.delete("pgbouncer");
      clean = parsed.toString();
    }
  } catch {
    // Not a URL postgres.js would read either; the driver will say so.
  }
  const forced = ["transaction", "1", "true", "on"].includes(mode);
  const off = ["off", "0", "false", "session", "direct"].includes(mode);
  const pooled = off ? false : forced || flagged || port === SUPAVISOR_TRANSACTION_PORT;
  return { url: clean, pooled, source };
}

/** The database the functions use, or null when no URL is set. */
export function functionsDatabase(env: Env): DatabaseTarget | null {
  if (env.DATABASE_URL) return classifyUrl(env.DATABASE_URL, "DATABASE_URL", env);
  if (env.SUPABASE_DB_URL) return classifyUrl(env.SUPABASE_DB_URL, "SUPABASE_DB_URL", env);
  return null;
}

/** Why the runtime will not start without a database URL. */
export function missingDatabaseMessage(): string {
  return "no database: set DATABASE_URL (or SUPABASE_DB_URL) to your Postgres. Outside the local " +
    "dev server edgeflow does not fall back to embedded PGlite: an edge isolate's disk is " +
    "ephemeral and every isolate would get its own empty database. For a deliberate local " +
    "PGlite, set EDGEFLOW_DATA_DIR to a folder (or `memory`).";
}

/**
 * The database migrations run against: a direct connection. Null when no URL
 * is set (the caller may use PGlite locally). Throws, with the fix in the
 * message, when the only URL given is a transaction pooler.
 */
export function migrationDatabase(env: Env): DatabaseTarget | null {
  if (env.EDGEFLOW_DIRECT_URL) {
    // EDGEFLOW_DB_POOLER describes DATABASE_URL, not this one: only the URL itself can say "pooler".
    const target = classifyUrl(env.EDGEFLOW_DIRECT_URL, "EDGEFLOW_DIRECT_URL", {});
    if (target.pooled) throw new Error(poolerMessage("EDGEFLOW_DIRECT_URL"));
    return target;
  }
  const candidates = (["DATABASE_URL", "SUPABASE_DB_URL"] as const)
    .filter((name) => env[name])
    .map((name) => classifyUrl(env[name]!, name, env));
  const direct = candidates.find((t) => !t.pooled);
  if (direct) return direct;
  if (candidates.length) throw new Error(poolerMessage(candidates[0].source));
  return null;
}

function poolerMessage(source: string): string {
  return `${source} points at a transaction pooler (port ${SUPAVISOR_TRANSACTION_PORT}, ` +
    "?pgbouncer=true or EDGEFLOW_DB_POOLER=transaction): migrations are refused there, they " +
    "need a direct connection. Set EDGEFLOW_DIRECT_URL to the direct connection string " +
    "(Supabase: Project Settings → Database → Connection string → Direct connection, port " +
    "5432) and run `deno task migrate` again; the functions keep using the pooler.";
}
