/**
 * What the fault tests share: the real app served over HTTP, worker
 * processes that can be SIGKILLed, a ticker, and waits with deadlines, so
 * that every test stops by itself in bounded time whatever breaks.
 */
import { createApp } from "../../shared/app/app.ts";
import type { AppConfig } from "../../shared/app/deps.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { ADMIN_KEY } from "../support/app.ts";

export { ADMIN_KEY };
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a value other than undefined/false, or fail after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 30_000, everyMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

/** The app on a real port, over `sql`. */
export function serveApp(sql: Sql, config: Partial<AppConfig> = {}) {
  const app = createApp({
    sql: () => sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 1, leaseSeconds: 2, ...config },
    log: silentLogger,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    /** JSON request with the admin key; network errors become status 0. */
    async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      try {
        const res = await fetch(url + path, {
          method,
          headers: {
            authorization: `Bearer ${ADMIN_KEY}`,
            "content-type": "application/json",
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        // deno-lint-ignore no-explicit-any
        let parsed: any = text;
        try {
          parsed = JSON.parse(text);
        } catch { /* not JSON */ }
        return { status: res.status, body: parsed };
      } catch (err) {
        return { status: 0, body: String(err) };
      }
    },
    close: () => server.shutdown(),
  };
}

/** One event line of a worker process. */
export interface WorkerEvent {
  event: "claimed" | "completed" | "refused";
  worker: string;
  task: string;
  run_id?: string;
  lease?: string;
  attempt?: number;
  status?: number;
}

const WORKER = new URL("./worker_process.ts", import.meta.url).pathname;

/** A worker process (tests/faults/worker_process.ts) whose events are collected as they come. */
export function spawnWorker(url: string, worker: string, args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      WORKER,
      "--url",
      url,
      "--key",
      ADMIN_KEY,
      "--worker",
      worker,
      ...args,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const events: WorkerEvent[] = [];
  const reading = (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of lines) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("{")) events.push(JSON.parse(line));
      }
    }
  })();
  let killed = false;
  return {
    worker,
    events,
    /** SIGKILL: no cleanup, no goodbye, exactly like a crashed host. */
    async kill() {
      if (!killed) {
        killed = true;
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await child.status;
      await reading.catch(() => {});
    },
  };
}

export type WorkerProcess = ReturnType<typeof spawnWorker>;

/** Call POST /trigger/tick every `everyMs` until stopped (the pg_cron of the tests). */
export function ticker(call: (m: string, p: string) => Promise<unknown>, everyMs = 250) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await call("POST", "/trigger/tick");
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
