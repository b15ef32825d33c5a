/**
 * When the outbox is drained besides the tick: after a request that may have
 * ended runs (task completion or failure, a cancel), in the background the
 * runtime offers (`deps.background`: Workers' waitUntil, a detached promise
 * on Deno). One drain at a time per isolate; a request arriving while one
 * runs asks for one more round instead of a second drain.
 *
 * Whether any notification is active is remembered for 30 s, so an isolate
 * whose database has none costs nothing but one lookup per half minute.
 */
import type { Sql } from "../db/sql.ts";
import type { AppConfig } from "../app/deps.ts";
import type { Logger } from "../http/logger.ts";
import { qstashPublisher } from "../scheduler/qstash_delivery.ts";
import { type DrainDeps, drainNotifications, type DrainReport } from "./drain.ts";

/** Path of the QStash wake-up that drains the outbox. */
export const DRAIN_PATH = "/trigger/notifications/drain";
const ACTIVE_TTL_MS = 30_000;

export interface Notifier {
  /** Drain now (awaited: the tick, the QStash wake-up). */
  drain(sql: Sql): Promise<DrainReport>;
  /** Drain if any notification is active, unless a drain already runs here. */
  kick(sql: Sql): Promise<void>;
  /** Forget the remembered "any active?" (a notification was saved or deleted). */
  changed(): void;
}

export interface NotifierDeps {
  config: AppConfig;
  log: Logger;
  now?: () => Date;
  fetch?: typeof fetch;
}

export function createNotifier(deps: NotifierDeps): Notifier {
  let active: { value: boolean; until: number } | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  const now = deps.now ?? (() => new Date());
  const publisher = qstashPublisher(deps.config);
  const base = deps.config.publicUrl?.replace(/\/+$/, "");
  const drainDeps = (sql: Sql): DrainDeps => ({
    sql,
    now,
    log: deps.log,
    fetch: deps.fetch,
    wake: publisher && base ? { publisher, url: `${base}${DRAIN_PATH}` } : undefined,
  });
  const anyActive = async (sql: Sql) => {
    const t = Date.now();
    if (!active || active.until < t) {
      const [row] = await sql<{ any: boolean }>`
        select exists(select 1 from edgeflow.notifications where active) as any`;
      active = { value: row.any, until: t + ACTIVE_TTL_MS };
    }
    return active.value;
  };
  return {
    drain: (sql) => drainNotifications(drainDeps(sql)),
    async kick(sql) {
      if (running) {
        again = true;
        return await running;
      }
      if (!(await anyActive(sql))) return;
      running = (async () => {
        do {
          again = false;
          await drainNotifications(drainDeps(sql));
        } while (again);
      })().finally(() => (running = null));
      return await running;
    },
    changed() {
      active = null;
    },
  };
}
