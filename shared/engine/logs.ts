/**
 * Task logs in the database: the fenced, bounded append a worker's lines go
 * through, and the paged read of a run's lines (migration 0110).
 */
import type { Sql } from "../db/sql.ts";
import type { LogLevel, LogLine } from "../api/log_schema.ts";

/** What an append did; `error` for a refusal (nothing was stored). */
export type AppendOutcome =
  | { accepted: number; dropped: number; dropped_total: number; lines_total: number }
  | { error: "not_found" | "stale_lease" };

/** Stores `lines` of a task under its current lease. */
export async function appendTaskLogs(
  sql: Sql,
  task: string,
  lease: string,
  lines: LogLine[],
  dropped: number,
): Promise<AppendOutcome> {
  const [row] = await sql<{ r: AppendOutcome }>`
    select edgeflow.append_task_logs(${task}::uuid, ${lease}::uuid,
                                     ${JSON.stringify(lines)}::text::jsonb, ${dropped}::int) as r`;
  return row.r;
}

/** One stored line, as readers get it. */
export interface LogEntry {
  id: number;
  at: string;
  step: string;
  task: string;
  attempt: number;
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

/** A page of a run's lines, read in one snapshot with the run's status. */
export interface LogPage {
  run_id: string;
  status: string;
  logs: LogEntry[];
  /** Resume with `?after=` this (or `Last-Event-ID`). */
  last_id: number;
  /** Per task, the lines it lost over its bounds. */
  dropped: { task: string; step: string; dropped: number }[];
}

/** Which of a run's lines to read. */
export interface LogFilter {
  after: number;
  limit: number;
  step?: string;
  task?: string;
  level?: LogLevel;
}

/** A run's lines after `filter.after`, or null when there is no such run. */
export async function readLogs(sql: Sql, runId: string, f: LogFilter): Promise<LogPage | null> {
  const [row] = await sql<{ p: LogPage | null }>`
    select edgeflow.run_logs(${runId}::uuid, ${f.after}::bigint, ${f.limit}::int,
                             ${f.step ?? null}::text, ${f.task ?? null}::uuid,
                             ${f.level ?? null}::text) as p`;
  return row?.p ?? null;
}
