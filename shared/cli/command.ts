/**
 * What a command is (its words, flags, help and body) and what it gets when
 * it runs: parsed arguments, output helpers and a lazily made API client.
 * Commands only describe themselves; `main.ts` parses, dispatches and
 * renders errors, so every command has the same `--help`, `--json` and
 * error output.
 */
import { ApiClient } from "./client.ts";
import type { Flags, FlagSpec } from "./args.ts";
import { CliError, type CliIo, EXIT } from "./io.ts";

/** One command of the CLI. */
export interface Command {
  /** The words that select it: `["runs", "ls"]`. */
  path: string[];
  /** Positional arguments for the usage line, e.g. `<deployment>`. */
  args?: string;
  /** One line for the command list. */
  summary: string;
  /** Further help text (examples, semantics), shown by `--help`. */
  description?: string;
  /** Flags besides the global ones. */
  flags?: Record<string, FlagSpec>;
  /** How many positionals it takes: [min, max] (default [0, 0]). */
  arity?: [number, number];
  /** Runs it; resolves with the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** What a running command gets. */
export class CommandContext {
  #client: ApiClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly command: Command,
    readonly positionals: string[],
    readonly flags: Flags,
  ) {}

  /** The command's name as typed, for messages (`runs ls`). */
  get name(): string {
    return this.command.path.join(" ");
  }

  /** `--json` was given: print machine-readable output only. */
  get json(): boolean {
    return this.flags.bool("json");
  }

  /** Server URL from `--url` or EDGEFLOW_URL; undefined when neither is set. */
  get url(): string | undefined {
    return this.flags.string("url") || this.io.env.EDGEFLOW_URL || undefined;
  }

  /** The API client; a usage error when no server URL is set. */
  api(): ApiClient {
    if (this.#client) return this.#client;
    const url = this.url;
    if (!url) {
      throw new CliError(
        "no server URL: pass --url or set EDGEFLOW_URL",
        ["e.g. EDGEFLOW_URL=http://localhost:8000"],
        EXIT.usage,
      );
    }
    if (!/^https?:\/\//.test(url)) {
      throw new CliError(
        `the server URL must start with http:// or https://, got "${url}"`,
        [],
        EXIT.usage,
      );
    }
    const key = this.flags.string("key") || this.io.env.EDGEFLOW_KEY || undefined;
    return this.#client = new ApiClient(url, key, this.io.fetch);
  }

  /** Prints a line (or lines) on stdout. */
  print(text = ""): void {
    this.io.stdout(text.endsWith("\n") ? text : text + "\n");
  }

  /** Prints progress or warnings on stderr, where they never mix with `--json` output. */
  note(text: string): void {
    this.io.stderr(text.endsWith("\n") ? text : text + "\n");
  }

  /** Prints a value as indented JSON on stdout. */
  printJson(value: unknown): void {
    this.io.stdout(JSON.stringify(value, null, 2) + "\n");
  }
}

/** Percent-encodes one path segment (names may hold `.`; ids are UUIDs). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
