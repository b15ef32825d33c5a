// deno-lint-ignore-file no-explicit-any
/**
 * What the executor tests share: a served edgeflow, `worker start` run
 * in-process until its shutdown signal, real child processes (a Celery
 * worker, podman), and polling with a deadline instead of sleeps.
 */
import { ADMIN_KEY, type CliResult, type CliServer } from "../cli/harness.ts";
import { parseRedisUrl, RedisConnection } from "../../shared/celery/resp.ts";
import { denoConnect } from "../../shared/runtime/tcp.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** Polls `fn` until it returns something other than undefined, or throws after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Calls the server as admin. */
export async function api(server: CliServer, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null } as {
    status: number;
    body: any;
  };
}

/** Waits until run `id` has one of `statuses`; returns the run. */
export function runReaches(server: CliServer, id: string, statuses: string[], ms = 90_000) {
  return waitFor(`run ${id} to reach ${statuses.join("/")}`, async () => {
    const run = (await api(server, "GET", `/trigger/runs/${id}`)).body;
    return statuses.includes(run.status) ? run : undefined;
  }, ms);
}

/** `edgeflow worker start …` in-process; `stop()` is Ctrl-C and resolves with its result. */
export function startWorker(server: CliServer, args: string[]) {
  const ctl = new AbortController();
  let out = "";
  const done = server.cli(["worker", "start", ...args], {
    shutdown: ctl.signal,
    onStdout: (t) => void (out += t),
  });
  return {
    output: () => out,
    done,
    async stop(): Promise<CliResult> {
      ctl.abort();
      return await done;
    },
  };
}

/** Empties Redis database `db` of the machine's Redis. */
export async function flushRedis(url: string): Promise<void> {
  const c = await RedisConnection.open(denoConnect, parseRedisUrl(url));
  try {
    await c.command("FLUSHDB");
  } finally {
    c.close();
  }
}

/** Reads a key of Redis database `url`. */
export async function redisGet(url: string, key: string): Promise<string | null> {
  const c = await RedisConnection.open(denoConnect, parseRedisUrl(url));
  try {
    return (await c.command("GET", key)) as string | null;
  } finally {
    c.close();
  }
}

/** Whether `cmd args` runs and exits 0 (checked synchronously, for `ignore`). */
export function works(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** A started child process whose output is collected; `stop()` ends it. */
export function startProcess(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> },
) {
  const proc = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return {
    output: () => text,
    async stop() {
      try {
        proc.kill("SIGTERM");
      } catch { /* ended */ }
      await proc.status;
      await pumped;
    },
  };
}
