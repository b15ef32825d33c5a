/**
 * The `edgeflow` CLI: pick the command from the leading words, parse its
 * flags, run it, and turn every failure into `error: …` lines on stderr and
 * an exit code. `main(io)` never exits the process and never throws, so
 * tests call it in-process with captured output.
 */
import { GLOBAL_FLAGS, leadingWords, parseArgs } from "./args.ts";
import { type Command, CommandContext } from "./command.ts";
import { commandHelp, groupHelp, overviewHelp } from "./help.ts";
import { CliError, type CliIo, EXIT, usageError } from "./io.ts";
import { COMMANDS } from "./commands.ts";
import { didYouMean } from "./suggest.ts";

/** Runs the CLI with `io.args`; resolves with the exit code. */
export async function main(io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const json = io.args.includes("--json");
  try {
    return await dispatch(io, commands);
  } catch (err) {
    return report(io, err, json);
  }
}

async function dispatch(io: CliIo, commands: readonly Command[]): Promise<number> {
  const words = leadingWords(io.args);
  const wantsHelp = io.args.includes("--help") || io.args.includes("-h");
  if (words[0]?.word === "help") {
    const rest = words.slice(1).map((w) => w.word);
    const target = findCommand(commands, rest);
    const names = new Set(commands.map((c) => c.path[0]));
    if (!target && rest[0] !== undefined && !names.has(rest[0])) {
      throw usageError(`unknown command "${rest[0]}"${didYouMean(rest[0], names)}`);
    }
    io.stdout(target ? commandHelp(target) : helpFor(rest[0], commands));
    return EXIT.ok;
  }
  const command = findCommand(commands, words.map((w) => w.word));
  if (!command) {
    const first = words[0]?.word;
    if (first === undefined) {
      const flagsOnly = io.args.filter((a) => a !== "--help" && a !== "-h");
      if (flagsOnly.length === 0) {
        io.stdout(overviewHelp(commands));
        return EXIT.ok;
      }
      // `edgeflow --url`, `edgeflow --verbose runs ls`: say what is wrong, not the overview with 0.
      const { positionals } = parseArgs(flagsOnly, GLOBAL_FLAGS, "");
      if (positionals[0]?.startsWith("-")) throw usageError(`unknown flag ${positionals[0]}`);
      throw usageError("name a command (edgeflow runs ls, edgeflow run <deployment>, …)");
    }
    if (commands.some((c) => c.path.length > 1 && c.path[0] === first)) {
      const text = groupHelp(first, commands);
      if (wantsHelp) {
        io.stdout(text);
        return EXIT.ok;
      }
      const sub = words[1]?.word;
      if (sub !== undefined) {
        // `runs lss`: say which word was wrong, and the closest real one, before the group's list.
        const subs = commands.filter((c) => c.path[0] === first).map((c) => c.path[1]);
        io.stderr(
          `error: unknown command "${first} ${sub}"${didYouMean(sub, subs, `${first} `)}\n`,
        );
      }
      io.stderr(text);
      return EXIT.usage;
    }
    const names = new Set(["help", ...commands.map((c) => c.path[0])]);
    throw usageError(`unknown command "${first}"${didYouMean(first, names)}`);
  }
  const name = command.path.join(" ");
  if (wantsHelp) {
    io.stdout(commandHelp(command));
    return EXIT.ok;
  }
  // Drop the command's own words; everything else is its arguments.
  const skip = new Set(words.slice(0, command.path.length).map((w) => w.index));
  const rest = io.args.filter((_, i) => !skip.has(i));
  const { positionals, flags } = parseArgs(rest, { ...GLOBAL_FLAGS, ...command.flags }, name);
  const [min, max] = command.arity ?? [0, 0];
  if (positionals.length < min) {
    throw usageError(`missing argument: edgeflow ${name} ${command.args ?? ""}`.trim(), name);
  }
  if (positionals.length > max) {
    throw usageError(`unexpected argument "${positionals[max]}"`, name);
  }
  return await command.run(new CommandContext(io, command, positionals, flags));
}

/** The command whose words are the longest prefix of `words`. */
function findCommand(commands: readonly Command[], words: string[]): Command | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    const matches = c.path.every((w, i) => words[i] === w);
    if (matches && c.path.length > (best?.path.length ?? 0)) best = c;
  }
  return best;
}

function helpFor(group: string | undefined, commands: readonly Command[]): string {
  return group && commands.some((c) => c.path[0] === group)
    ? groupHelp(group, commands)
    : overviewHelp(commands);
}

/** Prints a failure and picks its exit code; unexpected errors keep their stack. */
function report(io: CliIo, err: unknown, json: boolean): number {
  if (err instanceof CliError) {
    if (json && err.document !== undefined) {
      io.stderr(JSON.stringify(err.document, null, 2) + "\n");
    } else {
      io.stderr(`error: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join("")}`);
    }
    return err.exitCode;
  }
  const stack = err instanceof Error ? err.stack ?? err.message : String(err);
  io.stderr(`error: unexpected failure (a bug in edgeflow; please report it)\n${stack}\n`);
  return EXIT.failed;
}
