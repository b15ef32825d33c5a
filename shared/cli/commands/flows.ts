/** `flows ls`, `flows show <name>`, `flows archive <name> <version>`. */
import type { Command } from "../command.ts";
import { seg } from "../command.ts";
import { usageError } from "../io.ts";
import { renderFields, renderTable, shortTime } from "../table.ts";

interface FlowStep {
  slug: string;
  handler?: string;
  depends_on?: string[];
  map?: string | null;
  max_attempts?: number;
  timeout?: number;
}

interface FlowDoc {
  name: string;
  version: number;
  hash?: string;
  archived?: boolean;
  created_at?: string;
  description?: string | null;
  entrypoint?: string | null;
  image?: string | null;
  tags?: string[] | null;
  steps?: FlowStep[] | null;
  versions?: FlowDoc[];
}

/** `edgeflow flows ls` */
export const flowsListCommand: Command = {
  path: ["flows", "ls"],
  summary: "list registered flows (latest version of each)",
  async run(ctx) {
    const { body } = await ctx.api().call<{ flows: FlowDoc[] }>("GET", "/register/flows");
    if (ctx.json) ctx.printJson(body);
    else if (!body.flows.length) ctx.print("no flows registered");
    else {
      ctx.print(renderTable([
        { header: "name", value: (f: FlowDoc) => f.name },
        { header: "version", value: (f) => f.version },
        { header: "steps", value: (f) => f.steps?.length ?? 0 },
        { header: "tags", value: (f) => f.tags },
        { header: "entrypoint", value: (f) => f.entrypoint },
        { header: "image", value: (f) => f.image },
      ], body.flows));
    }
    return 0;
  },
};

/** `edgeflow flows show <name>` */
export const flowsShowCommand: Command = {
  path: ["flows", "show"],
  args: "<name>",
  arity: [1, 1],
  summary: "show a flow: its steps and all its versions",
  async run(ctx) {
    const { body: f } = await ctx.api().call<FlowDoc>(
      "GET",
      `/register/flows/${seg(ctx.positionals[0])}`,
    );
    if (ctx.json) {
      ctx.printJson(f);
      return 0;
    }
    ctx.print(renderFields([
      ["name", f.name],
      ["version", f.version],
      ["description", f.description],
      ["entrypoint", f.entrypoint],
      ["image", f.image],
      ["tags", f.tags],
    ]));
    if (f.steps?.length) {
      ctx.print();
      ctx.print(renderTable([
        { header: "step", value: (s: FlowStep) => s.slug },
        { header: "handler", value: (s) => s.handler },
        { header: "depends on", value: (s) => s.depends_on },
        { header: "map", value: (s) => s.map },
        { header: "max attempts", value: (s) => s.max_attempts },
        { header: "timeout", value: (s) => (s.timeout ? `${s.timeout}s` : "-") },
      ], f.steps));
    }
    ctx.print();
    ctx.print(renderTable([
      { header: "version", value: (v: FlowDoc) => v.version },
      { header: "hash", value: (v) => v.hash?.slice(0, 12) },
      { header: "archived", value: (v) => (v.archived ? "yes" : "no") },
      { header: "created", value: (v) => shortTime(v.created_at) },
    ], f.versions ?? []));
    return 0;
  },
};

/** `edgeflow flows archive <name> <version>` */
export const flowsArchiveCommand: Command = {
  path: ["flows", "archive"],
  args: "<name> <version>",
  arity: [2, 2],
  summary: "archive a flow version: no new runs start on it",
  async run(ctx) {
    const [name, version] = ctx.positionals;
    if (!/^\d+$/.test(version)) {
      throw usageError(`version must be a number, got "${version}"`, ctx.name);
    }
    const { body } = await ctx.api().call(
      "POST",
      `/register/flows/${seg(name)}/versions/${version}/archive`,
    );
    if (ctx.json) ctx.printJson(body);
    else ctx.print(`archived ${name} version ${version}`);
    return 0;
  },
};
