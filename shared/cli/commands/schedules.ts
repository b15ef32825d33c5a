/**
 * `schedules pause|resume|preview <deployment> <schedule-id>`: one schedule
 * of a deployment (ids are in `deployments show`). Pausing a schedule keeps
 * the deployment triggerable; `pause <deployment>` stops both.
 */
import type { Command, CommandContext } from "../command.ts";
import { seg } from "../command.ts";
import { CliError, EXIT } from "../io.ts";
import { renderTable, utcTime, zonedTime } from "../table.ts";

/** One previewed fire time: the instant and the wall-clock time in the schedule's zone. */
interface FireTime {
  utc: string;
  local: string;
}

function schedulePath(ctx: CommandContext): string {
  const [deployment, id] = ctx.positionals;
  return `/deploy/deployments/${seg(deployment)}/schedules/${seg(id)}`;
}

function toggle(action: "pause" | "resume"): Command {
  return {
    path: ["schedules", action],
    args: "<deployment> <schedule-id>",
    arity: [2, 2],
    summary: action === "pause"
      ? "pause one schedule of a deployment (triggers still work)"
      : "resume a paused schedule from its next fire time (missed ones are not caught up)",
    async run(ctx) {
      const { body } = await ctx.api().call<Record<string, unknown>>(
        "POST",
        `${schedulePath(ctx)}/${action}`,
      );
      if (ctx.json) ctx.printJson(body);
      else {
        const next = body.next_fire_at
          ? `; next fire ${
            zonedTime(String(body.next_fire_at), body.timezone as string | undefined)
          }`
          : "";
        ctx.print(`schedule ${ctx.positionals[1]} is ${body.active ? "active" : "paused"}${next}`);
      }
      return EXIT.ok;
    },
  };
}

/** `edgeflow schedules pause <deployment> <id>` */
export const schedulesPauseCommand: Command = toggle("pause");

/** `edgeflow schedules resume <deployment> <id>` */
export const schedulesResumeCommand: Command = toggle("resume");

/** The schedule to preview: the one named, or the deployment's only one. */
async function onlySchedule(ctx: CommandContext): Promise<string> {
  const [deployment, id] = ctx.positionals;
  if (id !== undefined) return id;
  const { body } = await ctx.api().call<{ schedules?: { id: string; cron?: string }[] }>(
    "GET",
    `/deploy/deployments/${seg(deployment)}`,
  );
  const schedules = body.schedules ?? [];
  if (schedules.length === 1) return schedules[0].id;
  if (!schedules.length) throw new CliError(`deployment ${deployment} has no schedules`);
  throw new CliError(
    `deployment ${deployment} has ${schedules.length} schedules: name one`,
    schedules.map((s) => `edgeflow schedules preview ${deployment} ${s.id}`),
    EXIT.usage,
  );
}

/** `edgeflow schedules preview <deployment> [<id>] [--count N]` */
export const schedulesPreviewCommand: Command = {
  path: ["schedules", "preview"],
  args: "<deployment> [<schedule-id>]",
  arity: [1, 2],
  summary: "show a schedule's next fire times (the id may be left out when there is one)",
  flags: { count: { kind: "string", arg: "N", help: "how many fire times (default 10)" } },
  async run(ctx) {
    const count = ctx.flags.int("count", ctx.name);
    const qs = count === undefined ? "" : `?count=${count}`;
    const id = await onlySchedule(ctx);
    const path = `/deploy/deployments/${seg(ctx.positionals[0])}/schedules/${seg(id)}`;
    const { body } = await ctx.api().call<{ timezone?: string; fire_times: FireTime[] }>(
      "GET",
      `${path}/preview${qs}`,
    );
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.print(renderTable([
        { header: "fire time (UTC)", value: (t: FireTime) => utcTime(t.utc) },
        { header: `local time (${body.timezone ?? "UTC"})`, value: (t) => t.local },
      ], body.fire_times));
    }
    return EXIT.ok;
  },
};
