// deno-lint-ignore-file no-explicit-any
/**
 * The CLI against a real server: the app over a test database, served on a
 * free port, and `main` run in-process with captured output. Sleeps are
 * shortened (the import's 3 s retry becomes 250 ms) so waiting is testable.
 */
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { main } from "../../shared/cli/main.ts";
import { type CliIo, timerSleep } from "../../shared/cli/io.ts";
import { moduleUrl } from "../../shared/runtime/cli_io.ts";
import { denoSpawn } from "../../shared/runtime/spawn.ts";
import { denoConnect } from "../../shared/runtime/tcp.ts";
import type { TestDatabase } from "../support/db.ts";
import { ADMIN_KEY } from "../support/app.ts";

export { ADMIN_KEY };

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one invocation. */
export interface CliOptions {
  /** Environment besides EDGEFLOW_URL / EDGEFLOW_KEY (which default to the server and admin key). */
  env?: Record<string, string | undefined>;
  /** Aborting it is Ctrl-C. */
  shutdown?: AbortSignal;
  /** Pretend stdout is a terminal. */
  terminal?: boolean;
  /** Sees stdout as it is written (to act on a line while the command runs). */
  onStdout?: (text: string) => void;
  /** Sees stderr as it is written. */
  onStderr?: (text: string) => void;
}

/** A served app and a way to run the CLI against it. */
export interface CliServer {
  url: string;
  cli(args: string[], options?: CliOptions): Promise<CliResult>;
  close(): Promise<void>;
}

/** Runs `main` with `args`, capturing output. */
export async function runCli(args: string[], env: CliIo["env"], options: CliOptions = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    args,
    env,
    stdout: (t) => {
      stdout += t;
      options.onStdout?.(t);
    },
    stderr: (t) => {
      stderr += t;
      options.onStderr?.(t);
    },
    isTerminal: options.terminal ?? false,
    readTextFile: (p) => Deno.readTextFile(p),
    importModule: (p) => import(moduleUrl(p)),
    fetch: (input, init) => fetch(input, init),
    sleep: (ms, signal) => timerSleep(Math.min(ms, 250), signal),
    now: () => Date.now(),
    shutdown: options.shutdown ?? new AbortController().signal,
    spawn: denoSpawn,
    connect: denoConnect,
    cwd: Deno.cwd(),
  };
  const code = await main(io);
  return { code, stdout, stderr };
}

/** Serves the app over `db` on 127.0.0.1 and a free port. */
export function serveApp(db: TestDatabase, heartbeatSeconds = 1): CliServer {
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds, leaseSeconds: 30 },
    log: silentLogger,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    cli: (args, options = {}) =>
      runCli(args, { EDGEFLOW_URL: url, EDGEFLOW_KEY: ADMIN_KEY, ...options.env }, options),
    close: () => server.shutdown(),
  };
}

/** Parses stdout as JSON, failing with the output when it is not. */
export function json(result: CliResult): any {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Path of a fixture of these tests. */
export function fixture(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}
