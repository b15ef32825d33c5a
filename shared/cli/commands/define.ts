/** `register <file>…` and `deploy <file>…`: send definitions from files, say what changed. */
import { type Applied, applyDeployment, applyFlow } from "../apply.ts";
import type { Command, CommandContext } from "../command.ts";
import { type DefinitionKind, loadDefinitions } from "../definitions.ts";
import { EXIT } from "../io.ts";
import { renderTable } from "../table.ts";

/** Prints apply results: a table for people, the list of results for `--json`. */
export function printApplied(ctx: CommandContext, rows: readonly Applied[]): void {
  if (ctx.json) {
    ctx.printJson(rows.map(({ kind, name, outcome, detail, body }) => ({
      kind,
      name,
      outcome,
      detail,
      ...(body === undefined ? {} : { result: body }),
    })));
    return;
  }
  if (!rows.length) return;
  ctx.print(renderTable([
    { header: "kind", value: (r: Applied) => r.kind },
    { header: "name", value: (r) => r.name },
    { header: "result", value: (r) => r.outcome },
    { header: "detail", value: (r) => r.detail },
  ], rows));
}

async function defineAll(ctx: CommandContext, kind: DefinitionKind): Promise<number> {
  const api = ctx.api();
  // Read and parse every file before sending anything: a typo in the third
  // file should not leave the first two half-applied.
  const bodies = [];
  for (const path of ctx.positionals) bodies.push(...await loadDefinitions(ctx.io, path, kind));
  const rows: Applied[] = [];
  try {
    for (const body of bodies) {
      rows.push(kind === "flow" ? await applyFlow(api, body) : await applyDeployment(api, body));
    }
  } finally {
    // What went through before a failure is still worth showing.
    printApplied(ctx, rows);
  }
  return EXIT.ok;
}

/** `edgeflow register <file>…` */
export const registerCommand: Command = {
  path: ["register"],
  args: "<file>…",
  arity: [1, Infinity],
  summary: "register flows from JSON, YAML or a TS/JS module",
  description: `A file holds one flow, a list of flows, or {"flows": [...]}; YAML may
hold several documents. A module's default export and named exports count
when they look like flows (an object with "name" and "steps" or
"entrypoint"), alone or in arrays. Registering an identical definition
again is a no-op ("unchanged"); a changed one becomes a new version.

Examples:
  edgeflow register flows/etl.json
  edgeflow register flows/etl.yaml flows/report.yaml
  edgeflow register flows/mod.ts --json`,
  run: (ctx) => defineAll(ctx, "flow"),
};

/** `edgeflow deploy <file>…` */
export const deployCommand: Command = {
  path: ["deploy"],
  args: "<file>…",
  arity: [1, Infinity],
  summary: "create or update deployments from JSON, YAML or a TS/JS module",
  description: `A file holds one deployment, a list, or {"deployments": [...]}. The
body is declarative: fields left out take their defaults, so the file is the
whole truth about the deployment. Results: created, updated or unchanged.

Example:
  edgeflow deploy deployments/etl-nightly.yaml`,
  run: (ctx) => defineAll(ctx, "deployment"),
};
