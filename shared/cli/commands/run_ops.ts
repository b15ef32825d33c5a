/** `runs logs <id> [--follow]` and `runs retry <id> [--from STEP]`. */
import type { Command } from "../command.ts";
import { seg } from "../command.ts";
import { EXIT, usageError } from "../io.ts";
import { FINAL_STATES } from "../run_view.ts";

interface LogLine {
  id: number;
  at: string;
  step: string;
  task: string;
  attempt: number;
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

interface LogPage {
  status: string;
  logs: LogLine[];
  last_id: number;
  dropped: { task: string; step: string; dropped: number }[];
}

/** Lines per read; a full page is followed at once by the next one. */
const PAGE = 1000;
/** How often `--follow` asks for new lines while the run goes on. */
const FOLLOW_POLL_MS = 1000;

/** One line as the terminal shows it: time, level, step#attempt, message, fields. */
export function formatLogLine(l: LogLine): string {
  const time = l.at.slice(11, 23);
  const fields = l.fields && Object.keys(l.fields).length ? ` ${JSON.stringify(l.fields)}` : "";
  return `${time} ${l.level.toUpperCase().padEnd(5)} ${l.step}#${l.attempt}  ${l.message}${fields}`;
}

/** `edgeflow runs logs <id>` */
export const runsLogsCommand: Command = {
  path: ["runs", "logs"],
  args: "<run-id>",
  arity: [1, 1],
  summary: "print a run's log lines (--follow: until the run ends)",
  description: `Examples:
  edgeflow runs logs 3f2c… --follow
  edgeflow runs logs 3f2c… --step load --level warn --json`,
  flags: {
    follow: { kind: "boolean", help: "keep printing new lines until the run ends" },
    step: { kind: "string", arg: "STEP", help: "only lines of this step" },
    task: { kind: "string", arg: "TASK", help: "only lines of this task id" },
    level: {
      kind: "string",
      arg: "LEVEL",
      help: "this level and above (debug, info, warn, error)",
    },
  },
  async run(ctx) {
    const [id] = ctx.positionals;
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const name of ["step", "task", "level"]) {
      const value = ctx.flags.string(name);
      if (value) query.set(name, name === "level" ? value.toLowerCase() : value);
    }
    const follow = ctx.flags.bool("follow");
    let after = 0;
    let page: LogPage;
    for (;;) {
      query.set("after", String(after));
      ({ body: page } = await ctx.api().call<LogPage>(
        "GET",
        `/trigger/runs/${seg(id)}/logs?${query}`,
      ));
      for (const line of page.logs) {
        if (ctx.json) ctx.io.stdout(JSON.stringify(line) + "\n");
        else ctx.print(formatLogLine(line));
      }
      after = page.last_id;
      if (page.logs.length >= PAGE) continue;
      if (!follow || FINAL_STATES.has(page.status) || ctx.io.shutdown.aborted) break;
      await ctx.io.sleep(FOLLOW_POLL_MS, ctx.io.shutdown);
    }
    for (const d of page.dropped) {
      ctx.note(`${d.step} (task ${d.task}): ${d.dropped} line(s) dropped over the task's bounds`);
    }
    return EXIT.ok;
  },
};

/** `edgeflow runs retry <id>` */
export const runsRetryCommand: Command = {
  path: ["runs", "retry"],
  args: "<run-id>",
  arity: [1, 1],
  summary: "retry a failed, crashed or cancelled run (completed steps keep their outputs)",
  description: `The same run goes again: failed and cancelled steps are queued again,
completed steps keep their outputs. --from re-runs that step and everything after it.

Examples:
  edgeflow runs retry 3f2c…
  edgeflow runs retry 3f2c… --from load --params '{"day":"2026-11-22"}'`,
  flags: {
    from: { kind: "string", arg: "STEP", help: "re-run this step and everything downstream" },
    params: { kind: "string", arg: "JSON", help: "parameters overlaid on the run's own" },
  },
  async run(ctx) {
    const [id] = ctx.positionals;
    const body: Record<string, unknown> = {};
    const from = ctx.flags.string("from");
    if (from) body.from_step = from;
    const params = ctx.flags.string("params");
    if (params !== undefined) {
      try {
        body.parameters = JSON.parse(params);
      } catch (err) {
        throw usageError(`--params is not JSON: ${(err as Error).message}`, ctx.name);
      }
    }
    const { body: result } = await ctx.api().call<
      { run_id: string; status: string; retries: number; steps: string[] }
    >("POST", `/trigger/runs/${seg(id)}/retry`, body);
    if (ctx.json) ctx.printJson(result);
    else {
      ctx.print(`run ${result.run_id}: ${result.status} (retry ${result.retries})`);
      ctx.print(`queued again: ${result.steps.join(", ")}`);
    }
    return EXIT.ok;
  },
};
