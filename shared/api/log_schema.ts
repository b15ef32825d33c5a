/**
 * Bodies and queries of the logs and retry routes (api.md, "Logs" and
 * "Retry"). The logs body is loose like the other worker bodies: a newer
 * worker may send more, an older control plane must still take its lines.
 */
import { z } from "zod";
import { LeaseToken } from "./worker_schema.ts";
import { Slug } from "./names.ts";

/** Log levels, lowest first; `?level=` keeps this level and those after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One log level. */
export const LogLevel = z.enum(LOG_LEVELS);
/** A log level. */
export type LogLevel = z.infer<typeof LogLevel>;

/** Most lines one call may carry; a worker sends more in several calls. */
export const MAX_LINES_PER_CALL = 1000;

/** One line as a worker ships it. Long messages are cut by the server (8 KiB), not refused. */
export const LogLine = z.looseObject({
  level: LogLevel,
  message: z.string(),
  fields: z.record(z.string(), z.unknown()).optional(),
});
/** One shipped line. */
export type LogLine = z.infer<typeof LogLine>;

/** The body of `POST /heartbeat/tasks/:task/logs`. */
export const LogsBody = z.looseObject({
  lease: LeaseToken,
  lines: z.array(LogLine).max(MAX_LINES_PER_CALL),
  /** Lines the worker dropped itself (its buffer overflowed): counted with the server's. */
  dropped: z.number().int().min(0).max(1_000_000_000).default(0),
});
/** A validated logs call. */
export type LogsInput = z.output<typeof LogsBody>;

/** The body of `POST /trigger/runs/:id/retry` (may be empty). */
export const RetryBody = z.strictObject({
  /** Re-run this step and everything downstream of it, even where it completed. */
  from_step: Slug.optional(),
  /** New run parameters, overlaid on the run's own (validated against the flow's schema). */
  parameters: z.record(z.string(), z.unknown()).optional(),
});
/** A validated retry request. */
export type RetryInput = z.output<typeof RetryBody>;
