/**
 * A run's pages as Server-Sent Events, polled: what the event stream
 * (events_routes.ts) and the log stream (logs_routes.ts) share. Each page is
 * written by the route; once a page came back short (the reader is at the
 * live edge) and the run is final, an `end` event closes the stream;
 * otherwise it polls every POLL_MS, with a keep-alive comment after
 * HEARTBEAT_MS of silence, for at most MAX_STREAM_MS (EventSource then
 * reconnects and resumes by Last-Event-ID). A database error ends the
 * stream: the browser reconnects and resumes from the last id.
 */
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { AppDeps } from "./deps.ts";

/** Run states after which nothing changes any more. */
export const FINAL_RUN_STATES = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]);

const POLL_MS = 300;
const HEARTBEAT_MS = 15_000;
/** Streams end after this long; EventSource reconnects and resumes by Last-Event-ID. */
const MAX_STREAM_MS = 10 * 60_000;

/** What a page needs for the loop: the run's status and where the next read starts. */
export interface RunPage {
  status: string;
  last_id: number;
}

export interface RunStream<P extends RunPage> {
  first: P;
  /** Writes a page's items; resolves true when it wrote any (for the keep-alive). */
  write(sse: SSEStreamingApi, page: P): Promise<boolean>;
  /** The page came back short: the reader is at the live edge. */
  drained(page: P): boolean;
  /** The next page, or null when the run is gone (the stream ends). */
  next(after: number): Promise<P | null>;
  /** Named in the log line when the database fails (`event`, `log`). */
  what: string;
}

export function streamRun<P extends RunPage>(c: Context, deps: AppDeps, s: RunStream<P>) {
  c.header("X-Accel-Buffering", "no"); // nginx and friends: do not hold events back
  return streamSSE(c, async (sse) => {
    const started = Date.now();
    await sse.write("retry: 1000\n\n"); // reconnect after 1 s, not the browser's 3-5 s
    let lastWrite = started;
    let page: P | null = s.first;
    // A client that goes away mid-stream must not keep us polling.
    while (page && !sse.aborted && Date.now() - started < MAX_STREAM_MS) {
      if (await s.write(sse, page)) lastWrite = Date.now();
      const drained = s.drained(page);
      if (drained && FINAL_RUN_STATES.has(page.status)) {
        const end = { status: page.status, last_id: page.last_id };
        await sse.writeSSE({ event: "end", data: JSON.stringify(end) });
        return;
      }
      if (drained) {
        await sse.sleep(POLL_MS);
        if (Date.now() - lastWrite >= HEARTBEAT_MS) {
          await sse.write(": keep-alive\n\n");
          lastWrite = Date.now();
        }
      }
      try {
        page = await s.next(page.last_id);
      } catch (err) {
        // The database went away (or a Worker closed the request's client).
        deps.log("warn", `${s.what} stream stopped: database error`, { error: String(err) });
        return;
      }
    }
  });
}
