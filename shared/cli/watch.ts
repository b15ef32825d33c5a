/**
 * `run --watch`: show a run's step table until the run ends. The run is
 * re-read (`GET /trigger/runs/:id`) every second, or whenever the server's
 * event stream (`GET /trigger/runs/:id/events`, when it has one) says
 * something happened — the events only wake us, so any event format works
 * and a dropped stream just means polling. On a terminal the table is
 * redrawn in place; into a pipe or file a new frame is written only when a
 * status changes, so logs stay readable.
 */
import { type ApiClient, openEventStream } from "./client.ts";
import { seg } from "./command.ts";
import type { CliIo } from "./io.ts";
import { FINAL_STATES, renderRun, type RunDoc, runSignature } from "./run_view.ts";

/** Options of `watchRun`. */
export interface WatchOptions {
  /** Time between reads without an event stream (ms, default 1000). */
  pollMs?: number;
  /** Give up after this long (ms); default: wait as long as the run takes. */
  timeoutMs?: number;
}

/** Why watching ended: the run finished, or we stopped looking at it. */
export type WatchResult =
  | { kind: "finished"; run: RunDoc }
  | { kind: "interrupted" | "timed_out"; run: RunDoc };

/** Follows run `id`, drawing frames on stdout unless `quiet` (`--json`). */
export async function watchRun(
  io: CliIo,
  api: ApiClient,
  id: string,
  options: WatchOptions & { quiet?: boolean } = {},
): Promise<WatchResult> {
  const started = io.now();
  const stop = new AbortController();
  const onShutdown = () => stop.abort();
  io.shutdown.addEventListener("abort", onShutdown, { once: true });
  let wake = new AbortController();
  let streaming = false;
  const events = followEvents(api, `/trigger/runs/${seg(id)}/events`, stop.signal, () => {
    streaming = true;
    wake.abort();
  });
  let lines = 0;
  let lastSignature = "";
  try {
    for (;;) {
      const { body: run } = await api.call<RunDoc>("GET", `/trigger/runs/${seg(id)}`);
      if (!options.quiet) {
        const frame = renderRun(run, io.now());
        if (io.isTerminal) {
          // Back to the first line of the previous frame, clear to the end, redraw.
          io.stdout((lines ? `\x1b[${lines}F\x1b[J` : "") + frame);
          lines = frame.split("\n").length - 1;
        } else if (runSignature(run) !== lastSignature || FINAL_STATES.has(run.status)) {
          io.stdout(frame);
        }
        lastSignature = runSignature(run);
      }
      if (FINAL_STATES.has(run.status)) return { kind: "finished", run };
      if (io.shutdown.aborted) return { kind: "interrupted", run };
      if (options.timeoutMs !== undefined && io.now() - started >= options.timeoutMs) {
        return { kind: "timed_out", run };
      }
      wake = new AbortController();
      // With a live stream, polling is only a safety net for a missed event.
      const pause = streaming ? 5000 : options.pollMs ?? 1000;
      await io.sleep(pause, AbortSignal.any([wake.signal, io.shutdown]));
    }
  } finally {
    io.shutdown.removeEventListener("abort", onShutdown);
    stop.abort();
    await events;
  }
}

/** Calls `onEvent` for each event of an SSE stream until it ends or `signal` aborts. */
async function followEvents(
  api: ApiClient,
  path: string,
  signal: AbortSignal,
  onEvent: () => void,
): Promise<void> {
  const body = await openEventStream(api, path, signal);
  if (!body) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      // An event ends at a blank line; comments (": ping") are keep-alives.
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (event.split("\n").some((l) => l && !l.startsWith(":"))) onEvent();
      }
    }
  } catch {
    // The stream broke: polling carries on.
  }
}
