/**
 * Sending the outbox (`edgeflow.notification_deliveries`): claim due rows,
 * POST each one signed for this attempt (a fresh timestamp, the same
 * webhook-id every time), record the answer. Called by the tick, after a
 * request that may have ended runs (waitUntil), and by QStash's wake-up
 * when QStash is configured. Nothing here runs inside the engine's
 * transaction: the runs trigger only wrote the rows.
 *
 * A receiver's answer is a 2xx or a failure; a failure is retried on the
 * schedule of `edgeflow.notification_result` (30 s doubling to 6 h, over
 * 24 hours in all). Each POST has a 15 s timeout, the low end of what the
 * Standard Webhooks guidance recommends, so one dead receiver cannot hold a
 * drain past a Worker's budget.
 */
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../http/logger.ts";
import type { QstashPublisher } from "../qstash/publish.ts";
import { standardHeaders } from "./sign.ts";

export interface DrainDeps {
  sql: Sql;
  now: () => Date;
  log: Logger;
  fetch?: typeof fetch;
  /** Rows claimed per round (default 20) and rounds per call (default 5). */
  limit?: number;
  rounds?: number;
  timeoutMs?: number;
  /** With QStash: a wake-up at each retry's time, so no tick is needed to send it. */
  wake?: { publisher: QstashPublisher; url: string };
}

export interface DrainReport {
  delivered: number;
  retrying: number;
  failed: number;
}

interface Claimed {
  id: string;
  message_id: string;
  url: string;
  secret: string;
  payload: unknown;
  attempts: number;
}

/** One attempt at one row: its status code (0: no answer) and error text. */
async function attempt(
  deps: DrainDeps,
  row: Claimed,
): Promise<{ status: number; error: string | null }> {
  const body = JSON.stringify(row.payload);
  const headers = await standardHeaders(row.secret, row.message_id, deps.now(), body);
  try {
    const res = await (deps.fetch ?? fetch)(row.url, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        "user-agent": "edgeflow-notifications",
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(deps.timeoutMs ?? 15_000),
    });
    const text = await res.text().catch(() => "");
    return {
      status: res.status,
      error: res.ok ? null : `HTTP ${res.status} ${text.slice(0, 200)}`,
    };
  } catch (err) {
    return { status: 0, error: (err as Error).message };
  }
}

/** Send what is due now; returns what happened to the rows it claimed. */
export async function drainNotifications(deps: DrainDeps): Promise<DrainReport> {
  const report: DrainReport = { delivered: 0, retrying: 0, failed: 0 };
  for (let round = 0; round < (deps.rounds ?? 5); round++) {
    const rows = await deps.sql<Claimed>`
      select * from edgeflow.claim_notifications(${deps.limit ?? 20}::int)`;
    if (rows.length === 0) break;
    await Promise.all(rows.map(async (row) => {
      const { status, error } = await attempt(deps, row);
      const ok = status >= 200 && status < 300;
      const [{ r }] = await deps.sql<{ r: { status: string; next_attempt_at: string } | null }>`
        select edgeflow.notification_result(${row.id}::uuid, ${row.attempts}::int, ${ok},
                 ${status}::int, ${error}) as r`;
      const settled = { s: r?.status ?? null, at: r?.next_attempt_at ?? null };
      if (settled.s === "delivered") report.delivered++;
      else if (settled.s === "failed") {
        report.failed++;
        deps.log("warn", "notification given up", { message_id: row.message_id, url: row.url });
      } else if (settled.s === "pending") {
        report.retrying++;
        if (deps.wake && settled.at) await scheduleWake(deps, row, new Date(settled.at));
      }
    }));
  }
  return report;
}

async function scheduleWake(deps: DrainDeps, row: Claimed, at: Date): Promise<void> {
  try {
    await deps.wake!.publisher.publishDelayed({
      url: deps.wake!.url,
      body: { message_id: row.message_id },
      notBefore: at,
      deduplicationId: `${row.message_id}-${row.attempts}`,
    });
  } catch (err) {
    // The tick still sends it: the row is pending in Postgres either way.
    deps.log("warn", "QStash wake-up not scheduled", { error: String(err) });
  }
}
