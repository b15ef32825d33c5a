/** `run <deployment>`: start a run, optionally watching it to the end. */
import { parseAssignments } from "../args.ts";
import type { Command } from "../command.ts";
import { seg } from "../command.ts";
import { CliError, EXIT, usageError } from "../io.ts";
import { errorText, exitCodeOf } from "../run_view.ts";
import { watchRun } from "../watch.ts";

interface Started {
  run_id: string;
  status: string;
  deployment: string | null;
  flow: string;
  version: number;
}

/** `edgeflow run <deployment> [--param k=v]… [--watch]`, or `run --flow <flow>` without a deployment. */
export const runCommand: Command = {
  path: ["run"],
  args: "<deployment>",
  arity: [0, 1],
  summary: "start a run of a deployment (--watch: follow it to the end)",
  description: `Parameters are the deployment's defaults overlaid with --param values.
A value is read as JSON when it parses (n=3, ok=true, ids=[1,2],
o={"a":1}) and as a string otherwise (day=today, day=2026-11-22).

With --flow instead of a deployment, the latest version of a flow runs ad
hoc (pgflow's start_flow), in pool "default" unless --pool names another.

With --watch the step table is redrawn until the run ends; the exit code is
0 when it COMPLETED and 1 when it FAILED, CRASHED or was CANCELLED.

Examples:
  edgeflow run etl-nightly --param day=2026-11-22
  edgeflow run etl-nightly --param day=today --watch
  edgeflow run --flow etl --param day=2026-11-22 --watch
  edgeflow run --flow etl --param day=2026-11-22 --tag backfill`,
  flags: {
    param: { kind: "list", arg: "KEY=VALUE", help: "a run parameter (JSON or string value)" },
    tag: {
      kind: "list",
      arg: "TAG",
      help: "an extra run tag, besides the flow's and deployment's (tag limits count it)",
    },
    watch: { kind: "boolean", help: "show live step states until the run ends" },
    flow: { kind: "string", arg: "FLOW", help: "run a flow without a deployment (ad hoc)" },
    pool: { kind: "string", arg: "POOL", help: "with --flow: the pool to run in (default)" },
    timeout: { kind: "string", arg: "SECONDS", help: "with --watch: give up after this long" },
    "idempotency-key": {
      kind: "string",
      arg: "KEY",
      help: "start at most one run for this key (sent as Idempotency-Key)",
    },
  },
  async run(ctx) {
    const [deployment] = ctx.positionals;
    const flow = ctx.flags.string("flow");
    if (!deployment === !flow) {
      throw usageError("name a deployment, or a flow with --flow (not both)", ctx.name);
    }
    const parameters = parseAssignments(ctx.flags.list("param"), "param", ctx.name);
    const pool = ctx.flags.string("pool");
    if (pool && !flow) {
      throw usageError("--pool goes with --flow: a deployment has its pool", ctx.name);
    }
    const timeout = ctx.flags.int("timeout", ctx.name);
    const key = ctx.flags.string("idempotency-key");
    const tags = ctx.flags.list("tag");
    const api = ctx.api();
    const { status, body } = await api.call<Started>(
      "POST",
      flow ? `/trigger/flows/${seg(flow)}` : `/trigger/${seg(deployment)}`,
      {
        parameters,
        ...(flow && pool ? { pool } : {}),
        ...(tags.length ? { tags } : {}),
      },
      key ? { headers: { "idempotency-key": key } } : {},
    );
    const reused = status === 200 ? " (existing run for this idempotency key)" : "";
    if (!ctx.flags.bool("watch")) {
      if (ctx.json) ctx.printJson(body);
      else ctx.print(`started run ${body.run_id} of ${body.flow} v${body.version}${reused}`);
      return EXIT.ok;
    }
    if (!ctx.json) {
      ctx.note(`started run ${body.run_id}${reused}; watching (Ctrl-C stops watching)`);
    }
    const result = await watchRun(ctx.io, api, body.run_id, {
      quiet: ctx.json,
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    });
    if (ctx.json) ctx.printJson(result.run);
    if (result.kind === "interrupted") {
      ctx.note(`stopped watching; the run goes on: edgeflow runs show ${body.run_id}`);
      return 130;
    }
    if (result.kind === "timed_out") {
      throw new CliError(`run ${body.run_id} is still ${result.run.status} after ${timeout} s`, [
        `follow it with: edgeflow runs show ${body.run_id}`,
      ]);
    }
    const code = exitCodeOf(result.run);
    if (code !== 0 && !ctx.json) {
      ctx.note(
        `run ${result.run.status}${result.run.error ? `: ${errorText(result.run.error)}` : ""}`,
      );
    }
    return code;
  },
};
