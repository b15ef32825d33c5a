/** `--help` text, generated from the commands' own descriptions so it cannot drift. */
import { type FlagSpec, GLOBAL_FLAGS } from "./args.ts";
import type { Command } from "./command.ts";

/** The overview: every command with its summary, then the global flags. */
export function overviewHelp(commands: readonly Command[]): string {
  const names = commands.map((c) => usageOf(c));
  const w = Math.max(...names.map((n) => n.length));
  return [
    "edgeflow — command-line client of an edgeflow server",
    "",
    "Usage: edgeflow <command> [arguments] [flags]",
    "",
    "Commands:",
    ...commands.map((c, i) => `  ${names[i].padEnd(w)}  ${c.summary}`),
    "",
    "Global flags:",
    ...flagLines(GLOBAL_FLAGS),
    "",
    "Environment: EDGEFLOW_URL (server), EDGEFLOW_KEY (API key).",
    "Exit codes: 0 success, 1 failure (API error, failed run), 2 bad command line.",
    "Run `edgeflow <command> --help` for a command's flags and examples.",
    "",
  ].join("\n");
}

/** The commands under a group word (`runs`, `import`, …). */
export function groupHelp(group: string, commands: readonly Command[]): string {
  const members = commands.filter((c) => c.path[0] === group);
  const names = members.map((c) => usageOf(c));
  const w = Math.max(...names.map((n) => n.length));
  return [
    `Commands of edgeflow ${group}:`,
    ...members.map((c, i) => `  ${names[i].padEnd(w)}  ${c.summary}`),
    "",
    `Run \`edgeflow ${group} <command> --help\` for details.`,
    "",
  ].join("\n");
}

/** One command's help: usage, description, its flags and the global ones. */
export function commandHelp(command: Command): string {
  const own = command.flags ?? {};
  return [
    `Usage: edgeflow ${usageOf(command)}${Object.keys(own).length ? " [flags]" : ""}`,
    "",
    command.summary,
    ...(command.description ? ["", command.description.trimEnd()] : []),
    ...(Object.keys(own).length ? ["", "Flags:", ...flagLines(own)] : []),
    "",
    "Global flags:",
    ...flagLines(GLOBAL_FLAGS),
    "",
  ].join("\n");
}

function usageOf(command: Command): string {
  return [...command.path, ...(command.args ? [command.args] : [])].join(" ");
}

function flagLines(flags: Record<string, FlagSpec>): string[] {
  const labels = Object.entries(flags).map(([name, spec]) =>
    spec.kind === "boolean" ? `--${name}` : `--${name} ${spec.arg ?? "VALUE"}`
  );
  const w = Math.max(...labels.map((l) => l.length));
  return Object.values(flags).map((spec, i) =>
    `  ${labels[i].padEnd(w)}  ${spec.help}${spec.kind === "list" ? " (repeatable)" : ""}`
  );
}
