/**
 * The CLI's runtime on Deno: arguments, environment, stdout/stderr, files,
 * module loading and signals. Everything else of the CLI lives in
 * shared/cli/ and sees only the `CliIo` built here.
 */
import { type CliIo, timerSleep } from "../cli/io.ts";
import { denoSpawn } from "./spawn.ts";
import { denoConnect } from "./tcp.ts";

const encoder = new TextEncoder();

/** Writes all of `text` (writeSync may take less than it is given). */
function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * A file path as an import specifier: relative paths resolve against the
 * working directory (not this module), as people expect from a CLI.
 */
export function moduleUrl(path: string, cwd: string = Deno.cwd()): string {
  if (/^(file|https?|npm|jsr):/.test(path)) return path;
  const base = new URL(`file://${cwd.replace(/\\/g, "/").replace(/\/?$/, "/")}`);
  return new URL(path.replace(/\\/g, "/"), base).href;
}

/**
 * The first Ctrl-C (or SIGTERM) aborts `shutdown` so commands stop cleanly;
 * a second one exits at once, for when a clean stop hangs.
 */
function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  return controller.signal;
}

/** The `CliIo` of this Deno process. */
export function denoCliIo(): CliIo {
  return {
    args: [...Deno.args],
    env: Deno.env.toObject(),
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    isTerminal: Deno.stdout.isTerminal(),
    readTextFile: (path) => Deno.readTextFile(path),
    importModule: (path) => import(moduleUrl(path)),
    fetch: (input, init) => fetch(input, init),
    sleep: timerSleep,
    now: () => Date.now(),
    shutdown: shutdownSignal(),
    spawn: denoSpawn,
    connect: denoConnect,
    cwd: Deno.cwd(),
  };
}
