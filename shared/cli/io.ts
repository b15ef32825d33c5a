/**
 * Everything the CLI needs from its runtime, passed in (pgflow's `deps`
 * habit): arguments, environment, output, files, module loading, HTTP and
 * time. `shared/runtime/cli_io.ts` builds it for Deno; tests build it by
 * hand, so every command runs in-process with captured output and no
 * global state.
 */

import type { Spawn } from "../executors/child.ts";
import type { Connect } from "../celery/resp.ts";

/** The CLI's runtime. */
export interface CliIo {
  /** Command-line arguments after the program name. */
  args: string[];
  /** Environment (EDGEFLOW_URL, EDGEFLOW_KEY, and what `import trex` reads). */
  env: Record<string, string | undefined>;
  /** Writes text to standard output as is (callers add newlines). */
  stdout(text: string): void;
  /** Writes text to standard error as is. */
  stderr(text: string): void;
  /** True when stdout is a terminal: `run --watch` then redraws in place. */
  isTerminal: boolean;
  /** Reads a UTF-8 file (relative paths: from the working directory). */
  readTextFile(path: string): Promise<string>;
  /** Imports a JS/TS module by file path and returns its exports. */
  importModule(path: string): Promise<Record<string, unknown>>;
  /** HTTP client (the global `fetch` in production). */
  fetch: typeof fetch;
  /** Waits `ms`; resolves early when `signal` aborts. Tests shorten it. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Wall clock in ms since the epoch. */
  now(): number;
  /** Aborted on Ctrl-C / SIGTERM: long-running commands (worker, watch) stop cleanly. */
  shutdown: AbortSignal;
  /** Starts a child process (the container and process executors). */
  spawn?: Spawn;
  /** Opens a TCP connection (the Celery bridge's Redis). */
  connect?: Connect;
  /** The working directory (the process executor's default). */
  cwd?: string;
}

/** Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * A failure the CLI reports and exits with: `error: <message>` and the
 * detail lines under it. Expected failures are these; anything else is a bug
 * and is printed with its stack.
 */
export class CliError extends Error {
  constructor(
    message: string,
    /** Further lines (field paths, hints), printed indented. */
    readonly details: string[] = [],
    readonly exitCode: number = EXIT.failed,
    /** For `--json`: the machine-readable document (a problem document from the server). */
    readonly document?: unknown,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A mistake on the command line: exit code 2 and a pointer to `--help`. */
export function usageError(message: string, command?: string): CliError {
  const help = command ? `edgeflow ${command} --help` : "edgeflow --help";
  return new CliError(message, [`see ${help}`], EXIT.usage);
}

/** A sleep on real timers that an abort ends early (the default for `CliIo.sleep`). */
export function timerSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
