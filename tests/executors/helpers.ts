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
    // A call the server never answers fails the test, naming the call.
    signal: AbortSignal.timeout(60_000),
  }).catch((err) => {
    throw new Error(`${method} ${path}: ${err instanceof Error ? err.message : err}`);
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
    /** Ctrl-C; a worker that has not stopped within 90 s fails the test with what it printed. */
    async stop(): Promise<CliResult> {
      ctl.abort();
      if (!await settlesWithin(done, 90_000)) {
        throw new Error(`the worker did not stop within 90 s; it printed:\n${out}`);
      }
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
  const readers = [proc.stdout.getReader(), proc.stderr.getReader()];
  const pump = async (r: ReadableStreamDefaultReader<Uint8Array>) => {
    try {
      for (let c = await r.read(); !c.done; c = await r.read()) {
        text += decoder.decode(c.value, { stream: true });
      }
    } catch { /* cancelled */ }
  };
  const pumped = Promise.all(readers.map(pump));
  return {
    output: () => text,
    /**
     * SIGTERM, then SIGKILL for it and the children it had (a Celery pool's)
     * when it has not ended within `graceMs`: a warm shutdown that never ends
     * must not hold the suite. Children that outlive it keep the output pipes
     * open, so the output is read for at most a few seconds more.
     */
    async stop(graceMs = 20_000) {
      const children = childPids(proc.pid);
      try {
        proc.kill("SIGTERM");
      } catch { /* ended */ }
      if (!await settlesWithin(proc.status, graceMs)) {
        for (const pid of [...children, ...childPids(proc.pid)]) killPid(pid);
        try {
          proc.kill("SIGKILL");
        } catch { /* ended */ }
        await proc.status;
      }
      if (!await settlesWithin(pumped, 5_000)) {
        for (const pid of children) killPid(pid);
        for (const r of readers) r.cancel().catch(() => {});
      }
    },
  };
}

/** Whether `p` settles within `ms` (its timer cleared either way). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The pids whose parent is `pid` (from /proc), for a kill that must reach a pool. */
function childPids(pid: number): number[] {
  try {
    const out = new Deno.Command("pgrep", { args: ["-P", String(pid)], stdout: "piped" })
      .outputSync();
    return new TextDecoder().decode(out.stdout).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killPid(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* gone */ }
}
