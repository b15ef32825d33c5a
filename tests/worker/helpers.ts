/**
 * Shared pieces of the worker SDK tests: a worker wired to the fake server
 * with fast retries and captured logs, and a polling wait.
 */
import { createWorker, type Worker, type WorkerOptions } from "../../shared/worker/mod.ts";
import type { FakeServer } from "./fake_server.ts";

/** A log line captured by `testWorker`. */
export interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

/** A worker pointed at `server`, retrying fast, logging into `logs`. */
export function testWorker(
  server: FakeServer,
  options: Partial<WorkerOptions> & Pick<WorkerOptions, "handlers">,
): { worker: Worker; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const worker = createWorker({
    url: server.url,
    key: server.key,
    pool: "default",
    name: "w-test",
    retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 },
    logger: (level, message, fields) => logs.push({ level, message, fields }),
    ...options,
  });
  return { worker, logs };
}

/** Polls `check` every few ms until it holds; throws after `timeoutMs`. */
export async function waitFor(check: () => boolean, what = "condition", timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** A promise with its resolver, for handlers the test releases by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
