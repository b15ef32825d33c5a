/** AppDeps for Deno (dev server, Supabase Edge Functions, deno serve). */
import type { AppDeps } from "../app/deps.ts";
import { type ConfigContext, configFromEnv } from "../app/deps.ts";
import { consoleLogger } from "../http/logger.ts";
import { connectFromEnv } from "./connect.ts";
import type { Sql } from "../db/sql.ts";
import { edgeWaitUntil } from "./background.ts";

/**
 * One shared client per process: Deno keeps connections across requests.
 * The configuration is checked before connecting, so a refused setting
 * (auth disabled outside dev, a short admin key) stops the start at once.
 */
export async function denoDeps(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  sql?: Sql,
  context: ConfigContext = {},
): Promise<AppDeps & { db: Sql }> {
  const config = configFromEnv(env, context);
  const db = sql ?? await connectFromEnv(env, { local: !!context.dev });
  const waitUntil = edgeWaitUntil();
  return {
    db,
    sql: () => db,
    config,
    log: consoleLogger,
    waitUntil,
    // Long polls stream their answer here too (shared/app/long_poll.ts): Deno's
    // serve did not abort `request.signal` for a client that sent its request's
    // head and body in two writes and then left (19 of 20 polls ran their whole
    // wait); the space written before each claim saw every one of them leave
    // (20 of 20). The process outlives the answer: nothing to hold but the
    // edge runtime's isolate.
    keepUntil: (_c, work) => waitUntil?.(work),
    // The process outlives the response: a promise on the shared client, which
    // Supabase's runtime is asked to wait for (it may stop an idle isolate
    // otherwise; an outbox row then waits for the next tick).
    background: (_c, task) => {
      const work = task(db).catch((err) =>
        consoleLogger("warn", "background task failed", { error: String(err) })
      );
      waitUntil?.(work);
    },
  };
}
