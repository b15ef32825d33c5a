/**
 * Command-line parsing: `--flag value`, `--flag=value`, repeatable flags,
 * booleans and `--` to end flags. Each command declares its flags, so an
 * unknown or misspelt flag is an error that names the command's help rather
 * than a value silently ignored (`--stauts FAILED` listing every run).
 */
import { usageError } from "./io.ts";
import { didYouMean } from "./suggest.ts";

/** How a flag takes its value. */
export type FlagKind = "boolean" | "string" | "list";

/** One flag a command accepts. */
export interface FlagSpec {
  kind: FlagKind;
  /** One line for `--help`. */
  help: string;
  /** Placeholder shown in help, e.g. `NAME` (default `VALUE`). */
  arg?: string;
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  url: { kind: "string", arg: "URL", help: "server URL (default: $EDGEFLOW_URL)" },
  key: { kind: "string", arg: "KEY", help: "API key (default: $EDGEFLOW_KEY)" },
  json: { kind: "boolean", help: "print JSON for scripts instead of tables" },
  help: { kind: "boolean", help: "show help for the command" },
};

/** Parsed flags with typed accessors. */
export class Flags {
  constructor(private readonly values: Map<string, string[]>) {}

  /** The last value of a string flag. */
  string(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }
  /** Every value of a repeatable flag, in order. */
  list(name: string): string[] {
    return [...(this.values.get(name) ?? [])];
  }
  /** Whether a boolean flag was given. */
  bool(name: string): boolean {
    return this.values.has(name);
  }
  /** A whole number ≥ `min`, or `undefined` when absent; a usage error otherwise. */
  int(name: string, command: string, min = 1): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      throw usageError(`--${name} must be a whole number ≥ ${min}, got "${raw}"`, command);
    }
    return Number(raw);
  }
}

/** Positionals and flags of one command line. */
export interface ParsedArgs {
  positionals: string[];
  flags: Flags;
}

/** Parses `args` against `specs` (the command's flags plus the global ones). */
export function parseArgs(
  args: readonly string[],
  specs: Record<string, FlagSpec>,
  command?: string,
): ParsedArgs {
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => values.set(name, [...values.get(name) ?? [], value]);
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (token === "-h") {
      add("help", "true");
      continue;
    }
    if (!token.startsWith("--") || token.length === 2) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const name = token.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) {
      const hint = didYouMean(name, Object.keys(specs), "--");
      throw usageError(`unknown flag --${name}${hint}`, command);
    }
    if (spec.kind === "boolean") {
      if (eq >= 0) throw usageError(`--${name} takes no value`, command);
      add(name, "true");
      continue;
    }
    let value = eq >= 0 ? token.slice(eq + 1) : args[i + 1];
    if (eq < 0) {
      if (value === undefined || (value.startsWith("--") && value.length > 2)) {
        throw usageError(`--${name} needs a value (${spec.arg ?? "VALUE"})`, command);
      }
      i++;
    }
    value ??= "";
    if (spec.kind === "string" && values.has(name)) {
      throw usageError(`--${name} was given twice`, command);
    }
    add(name, value);
  }
  return { positionals, flags: new Flags(values) };
}

/**
 * The words that name the command (`runs`, `ls`) before any of its own
 * flags, skipping global flags and their values (`--url X runs ls`).
 */
export function leadingWords(args: readonly string[]): { word: string; index: number }[] {
  const words: { word: string; index: number }[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === "--") break;
    if (token.startsWith("-")) {
      const name = token.replace(/^--?/, "").split("=")[0];
      const spec = GLOBAL_FLAGS[name];
      if (!spec && name !== "h") break;
      if (spec?.kind === "string" && !token.includes("=")) i++;
      continue;
    }
    words.push({ word: token, index: i });
  }
  return words;
}

/**
 * `k=v` pairs as an object; each value is parsed as JSON when it parses
 * (`n=3`, `ok=true`, `ids=[1,2]`), and kept as the string otherwise (`day=today`).
 */
export function parseAssignments(
  pairs: readonly string[],
  flag: string,
  command: string,
  asJson = true,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw usageError(`--${flag} expects KEY=VALUE, got "${pair}"`, command);
    const value = pair.slice(eq + 1);
    let parsed: unknown = value;
    if (asJson) {
      try {
        parsed = JSON.parse(value);
      } catch {
        // Not JSON: the value is the string itself.
      }
    }
    out[pair.slice(0, eq)] = parsed;
  }
  return out;
}
