/**
 * `captureConsole: true`: `console.log/info/debug/warn/error` called inside a
 * handler (or anything it awaits) is shipped with the task's lines, as well
 * as printed as usual.
 *
 * Which task a console call belongs to is an async context, not a global:
 * with tasks running side by side, "the current task" only exists per async
 * chain. `AsyncLocalStorage` (node:async_hooks: Deno, Node, Bun, Workers with
 * nodejs_compat) carries it; it is imported only when capture is asked for,
 * so a runtime without it loses nothing else. The console is patched once
 * per process and unpatched when the last capturing worker stops; calls
 * outside any task, and the worker's own logger, pass straight through.
 */
import type { LogLevel } from "./deps.ts";

/** Where a task's console lines go. */
export type Sink = (level: LogLevel, message: string) => void;

interface Store {
  run<R>(store: Sink, fn: () => R): R;
  getStore(): Sink | undefined;
}

const METHODS: [keyof Console & ("log" | "info" | "debug" | "warn" | "error"), LogLevel][] = [
  ["log", "info"],
  ["info", "info"],
  ["debug", "debug"],
  ["warn", "warn"],
  ["error", "error"],
];

let storage: Store | null = null;
let users = 0;
let originals: Partial<Record<string, (...args: unknown[]) => void>> = {};
/** Set while the worker's own logger writes: its lines are not a task's. */
let quiet = 0;

function format(args: unknown[]): string {
  return args.map((a) => {
    if (typeof a === "string") return a;
    if (a instanceof Error) return a.stack ?? String(a);
    try {
      return JSON.stringify(a);
    } catch {
      return String(a);
    }
  }).join(" ");
}

/** Starts capturing (refcounted); resolves false where AsyncLocalStorage is missing. */
export async function startCapture(): Promise<boolean> {
  if (!storage) {
    try {
      // A specifier held in a variable: the SDK package is type-checked without
      // Node's types (tools/build_sdk.ts), and runtimes without the module land in catch.
      const specifier = "node:async_hooks";
      const mod = await import(specifier) as { AsyncLocalStorage: new () => Store };
      storage = new mod.AsyncLocalStorage();
    } catch {
      return false;
    }
  }
  if (users++ === 0) {
    originals = {};
    for (const [method, level] of METHODS) {
      const original = console[method].bind(console) as (...args: unknown[]) => void;
      originals[method] = original;
      console[method] = (...args: unknown[]) => {
        original(...args);
        const sink = quiet ? undefined : storage?.getStore();
        if (sink) sink(level, format(args));
      };
    }
  }
  return true;
}

/** Stops capturing once every worker that started it has stopped. */
export function stopCapture(): void {
  if (users === 0 || --users > 0) return;
  for (const [method] of METHODS) {
    const original = originals[method];
    if (original) console[method] = original;
  }
  originals = {};
}

/** Runs `fn` with console lines going to `sink` (plain `fn()` when capture is off). */
export function withConsoleSink<R>(sink: Sink | null, fn: () => R): R {
  return sink && storage && users > 0 ? storage.run(sink, fn) : fn();
}

/** Runs the worker's own logging without it being taken for a task's console output. */
export function outsideCapture(fn: () => void): void {
  quiet++;
  try {
    fn();
  } finally {
    quiet--;
  }
}
