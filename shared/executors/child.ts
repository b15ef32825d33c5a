/**
 * A child process (a container's `docker run`, or a Python process) as one
 * task attempt: its stdin gets the task as JSON, its output lines stream to
 * the task's log, the tail of stderr is kept for the error, and an aborted
 * task signal stops it. The process itself is made by a `Spawn` the runtime
 * passes in (shared/runtime/spawn.ts), so this file touches no runtime global.
 */
import { RESULT_MARKER } from "./runner_io.ts";

/** A started child process. */
export interface Child {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves with the exit code (a signal-killed child: 128 + signal, or -1). */
  status: Promise<number>;
  /** Sends a signal; ignored when the child already ended. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/** What starting a process needs. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  stdin?: string;
}

/** Starts `command args…`; throws when the binary cannot be started. */
export type Spawn = (command: string, args: string[], options: SpawnOptions) => Child;

/** How a child ended. */
export interface ChildOutcome {
  code: number;
  /**
   * The stdout lines a result can come from (runner_io.ts `resultOf`): the
   * last result-marker line and the last non-empty line, in order. Every
   * line went to the log; keeping them all would hold a chatty child's
   * whole output in memory.
   */
  stdout: string[];
  /** The last lines of stderr, for the error message. */
  stderrTail: string[];
}

/** Lines of stderr kept for the error of a failed attempt. */
export const STDERR_TAIL_LINES = 20;
/** A line longer than this is passed on in pieces (the log cuts a line at 8 KiB anyway). */
export const MAX_LINE_CHARS = 64 * 1024;

/** Reads a stream line by line, calling `onLine` for each (the last one unterminated too). */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl).replace(/\r$/, ""));
      rest = rest.slice(nl + 1);
    }
    // A child that never ends its line must not grow this buffer without end.
    while (rest.length > MAX_LINE_CHARS) {
      onLine(rest.slice(0, MAX_LINE_CHARS));
      rest = rest.slice(MAX_LINE_CHARS);
    }
  }
  rest += decoder.decode();
  if (rest) onLine(rest);
}

/**
 * Runs a started child to its end: streams its lines to `log`, and on
 * `signal` calls `stop` (which ends it: `docker stop`, or SIGTERM then
 * SIGKILL). Resolves once the child exited and both streams are read.
 */
export async function superviseChild(
  child: Child,
  log: { out(line: string): void; err(line: string): void },
  signal: AbortSignal,
  stop: () => Promise<void> | void,
): Promise<ChildOutcome> {
  let marker: string | null = null, last: string | null = null;
  const stderrTail: string[] = [];
  const onAbort = () => void Promise.resolve(stop()).catch(() => {});
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    const [code] = await Promise.all([
      child.status,
      readLines(child.stdout, (line) => {
        if (line.startsWith(RESULT_MARKER)) marker = line;
        if (line.trim() !== "") last = line;
        log.out(line);
      }),
      readLines(child.stderr, (line) => {
        stderrTail.push(line);
        if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
        log.err(line);
      }),
    ]);
    const stdout = marker !== null && marker !== last
      ? [marker, last!]
      : last !== null
      ? [last]
      : [];
    return { code, stdout, stderrTail };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
