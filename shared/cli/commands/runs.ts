/** `runs ls`, `runs show <id>`, `runs cancel <id>`. */
import type { Command } from "../command.ts";
import { seg } from "../command.ts";
import { EXIT } from "../io.ts";
import { renderRun, type RunDoc } from "../run_view.ts";
import { elapsed, renderTable, shortTime } from "../table.ts";
import { watchRun } from "../watch.ts";

/** `edgeflow runs ls` */
export const runsListCommand: Command = {
  path: ["runs", "ls"],
  summary: "list runs, newest first",
  description: `Examples:
  edgeflow runs ls --status FAILED --limit 20
  edgeflow runs ls --deployment etl-nightly --json`,
  flags: {
    status: { kind: "string", arg: "STATUS", help: "only runs in this state (RUNNING, FAILED, …)" },
    flow: { kind: "string", arg: "FLOW", help: "only runs of this flow" },
    deployment: { kind: "string", arg: "NAME", help: "only runs of this deployment" },
    limit: { kind: "string", arg: "N", help: "at most N runs (default 50, at most 500)" },
    cursor: { kind: "string", arg: "CURSOR", help: "the next page (printed under the table)" },
  },
  async run(ctx) {
    const query = new URLSearchParams();
    const status = ctx.flags.string("status");
    if (status) query.set("status", status.toUpperCase());
    for (const name of ["flow", "deployment", "cursor"]) {
      const value = ctx.flags.string(name);
      if (value) query.set(name, value);
    }
    const limit = ctx.flags.int("limit", ctx.name);
    if (limit !== undefined) query.set("limit", String(limit));
    const qs = query.size ? `?${query}` : "";
    const { body } = await ctx.api().call<{ runs: RunDoc[]; next_cursor: string | null }>(
      "GET",
      `/trigger/runs${qs}`,
    );
    if (ctx.json) {
      ctx.printJson(body);
      return EXIT.ok;
    }
    if (!body.runs.length) {
      ctx.print("no runs");
      return EXIT.ok;
    }
    const now = ctx.io.now();
    ctx.print(renderTable([
      { header: "id", value: (r: RunDoc) => r.id },
      { header: "status", value: (r) => r.status },
      { header: "flow", value: (r) => `${r.flow} v${r.version}` },
      { header: "deployment", value: (r) => r.deployment },
      { header: "created", value: (r) => shortTime(r.created_at) },
      { header: "duration", value: (r) => elapsed(r.started_at, r.ended_at, now) },
    ], body.runs));
    if (body.next_cursor) ctx.note(`more: edgeflow runs ls --cursor ${body.next_cursor}`);
    return EXIT.ok;
  },
};

/** `edgeflow runs show <id>` */
export const runsShowCommand: Command = {
  path: ["runs", "show"],
  args: "<run-id>",
  arity: [1, 1],
  summary: "show a run with its steps (--watch: follow it)",
  flags: { watch: { kind: "boolean", help: "redraw until the run ends" } },
  async run(ctx) {
    const [id] = ctx.positionals;
    if (ctx.flags.bool("watch")) {
      const result = await watchRun(ctx.io, ctx.api(), id, { quiet: ctx.json });
      if (ctx.json) ctx.printJson(result.run);
      return result.kind === "finished" ? (result.run.status === "COMPLETED" ? 0 : 1) : 130;
    }
    const { body } = await ctx.api().call<RunDoc>("GET", `/trigger/runs/${seg(id)}`);
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.io.stdout(renderRun(body, ctx.io.now()));
      ctx.print(`parameters: ${JSON.stringify(body.parameters ?? {})}`);
      if (body.output !== null && body.output !== undefined) {
        ctx.print(`output: ${JSON.stringify(body.output)}`);
      }
    }
    return EXIT.ok;
  },
};

/** `edgeflow runs cancel <id>` */
export const runsCancelCommand: Command = {
  path: ["runs", "cancel"],
  args: "<run-id>",
  arity: [1, 1],
  summary: "cancel a run (running tasks are told to stop)",
  async run(ctx) {
    const [id] = ctx.positionals;
    const { body } = await ctx.api().call<Record<string, unknown>>(
      "POST",
      `/trigger/runs/${seg(id)}/cancel`,
    );
    if (ctx.json) ctx.printJson(body);
    else ctx.print(`run ${id}: ${body.status ?? "cancel requested"}`);
    return EXIT.ok;
  },
};
