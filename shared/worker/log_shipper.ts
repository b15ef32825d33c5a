/**
 * Ships one task's log lines to the control plane
 * (`POST /heartbeat/tasks/:task/logs`, api.md "Logs"), under the task's lease.
 *
 * Lines are buffered and sent in batches: `flushMs` after the first line of a
 * batch (default 1 s: the run page shows them about a second late, and a
 * task logging in a tight loop costs one request a second, not one a line),
 * and always before the task's result is reported, so a finished task's
 * lines are all in before its run can end. One batch is in flight at a time.
 *
 * Bounded: at most `maxBuffer` lines wait (default 1,000); more are counted
 * and the count goes with the next batch as `dropped`, so the server's
 * overflow count includes them. A transient failure keeps the batch for the
 * next try; a `409` (the lease is gone) ends shipping for this task.
 */
import type { ProtocolClient } from "./client.ts";
import type { Clock, Logger, LogLevel, TimerHandle } from "./deps.ts";
import { HttpError, isTransient } from "./errors.ts";

/** One line as sent. */
export interface ShippedLine {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** Options of a `LogShipper`. */
export interface LogShipperOptions {
  client: ProtocolClient;
  clock: Clock;
  /** Where the shipper says that shipping failed (the worker's logger). */
  logger: Logger;
  task: string;
  lease: string;
  /** Wait this long after a first buffered line before sending (default 1,000 ms). */
  flushMs?: number;
  /** Lines buffered at most; further lines are counted as dropped (default 1,000). */
  maxBuffer?: number;
}

/** The server cuts messages at 8 KiB; cutting here keeps batches well under the 1 MiB body limit. */
const MAX_MESSAGE = 8192;
/** Bytes of one batch at most (the server refuses bodies over 1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;
/** Lines of one batch at most (the server's limit per call). */
const MAX_BATCH_LINES = 1000;

/** Buffers and sends the lines of one task. */
export class LogShipper {
  readonly #o: Required<LogShipperOptions>;
  #buffer: { line: ShippedLine; bytes: number }[] = [];
  #dropped = 0;
  #timer: TimerHandle | null = null;
  #sending: Promise<void> = Promise.resolve();
  #stale = false;

  /** A shipper for the task and lease of `options`. */
  constructor(options: LogShipperOptions) {
    this.#o = { flushMs: 1000, maxBuffer: 1000, ...options };
  }

  /** Lines the server will never get: dropped here and not yet reported. */
  get pendingDropped(): number {
    return this.#dropped;
  }

  /** Buffers a line (never throws, never blocks the handler). */
  push(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (this.#stale) return;
    if (this.#buffer.length >= this.#o.maxBuffer) {
      this.#dropped++;
      return;
    }
    const line: ShippedLine = { level, message: String(message).slice(0, MAX_MESSAGE) };
    let bytes = line.message.length + 40;
    if (fields && Object.keys(fields).length) {
      const encoded = safeFields(fields);
      line.fields = encoded.fields;
      bytes += encoded.bytes;
    }
    this.#buffer.push({ line, bytes });
    if (this.#timer === null) {
      this.#timer = this.#o.clock.setTimeout(() => {
        this.#timer = null;
        void this.flush();
      }, this.#o.flushMs);
    }
  }

  /** Sends everything buffered so far; resolves when it was sent or given up. */
  flush(): Promise<void> {
    if (this.#timer !== null) {
      this.#o.clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#sending = this.#sending.then(() => this.#sendAll());
    return this.#sending;
  }

  async #sendAll(): Promise<void> {
    while (!this.#stale && (this.#buffer.length || this.#dropped)) {
      let bytes = 0, n = 0;
      while (n < this.#buffer.length && n < MAX_BATCH_LINES) {
        if (n > 0 && bytes + this.#buffer[n].bytes > MAX_BATCH_BYTES) break;
        bytes += this.#buffer[n++].bytes;
      }
      const batch = this.#buffer.slice(0, n);
      const dropped = this.#dropped;
      const body = JSON.stringify({
        lease: this.#o.lease,
        lines: batch.map((b) => b.line),
        dropped,
      });
      try {
        await this.#o.client.post(
          `/heartbeat/tasks/${encodeURIComponent(this.#o.task)}/logs`,
          body,
        );
        this.#buffer.splice(0, n);
        this.#dropped -= dropped;
      } catch (error) {
        if (error instanceof HttpError && error.status === 409) {
          this.#stale = true; // the lease is gone: nothing of ours is wanted any more
          this.#buffer = [];
          return;
        }
        if (isTransient(error)) {
          this.#o.logger("warn", "shipping task logs failed; will try again", {
            task: this.#o.task,
            error: String(error),
          });
          return; // kept: the next line or the final flush sends them
        }
        // Refused for good (a 4xx other than 409): count them rather than loop on them.
        this.#o.logger("warn", "the server refused task log lines", {
          task: this.#o.task,
          error: String(error),
        });
        this.#buffer.splice(0, n);
        this.#dropped += n;
        if (this.#buffer.length === 0) return;
      }
    }
  }
}

/** Fields as JSON can carry them: a value JSON.stringify refuses becomes a note. */
function safeFields(fields: Record<string, unknown>): {
  fields: Record<string, unknown>;
  bytes: number;
} {
  try {
    const text = JSON.stringify(fields);
    return { fields: JSON.parse(text), bytes: text.length };
  } catch (err) {
    const note = { unserializable: err instanceof Error ? err.message : String(err) };
    return { fields: note, bytes: JSON.stringify(note).length };
  }
}
