/** AppDeps for Deno (dev server, Supabase Edge Functions, deno serve). */
import type { AppDeps } from "../app/deps.ts";
import { configFromEnv } from "../app/deps.ts";
import { consoleLogger } from "../http/logger.ts";
import { connectFromEnv } from "./connect.ts";
import type { Sql } from "../db/sql.ts";

/** One shared client per process: Deno keeps connections across requests. */
export async function denoDeps(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  sql?: Sql,
): Promise<AppDeps & { db: Sql }> {
  const db = sql ?? await connectFromEnv(env as Record<string, string>);
  return { db, sql: () => db, config: configFromEnv(env), log: consoleLogger };
}
