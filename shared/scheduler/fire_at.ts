/**
 * One fire time of one schedule, delivered by QStash (`POST
 * /trigger/schedules/:id/fire`, after its signature was verified): create
 * its run, exactly once.
 *
 * The message was published by a tick, but the schedule may have changed
 * since: a schedule that is gone, paused, or no longer fires at that time
 * (redeployed with another spec) creates nothing, and the answer is still a
 * 2xx so that QStash stops retrying what can never succeed.
 */
import { afterSubflowsDue } from "../engine/subflows.ts";
import type { Sql } from "../db/sql.ts";
import { fireTimesBetween } from "../schedule/mod.ts";
import { storedSpec } from "./stored_spec.ts";
import { loadScheduleTarget, parameterProblem } from "./schedule_target.ts";

/** What a delivery did. `duplicate`: this message id was seen before; nothing new. */
export interface FireAtResult {
  created: number;
  duplicate?: boolean;
  skipped?: string;
  runs?: { run_id: string; scheduled_time: string; created: boolean }[];
  error?: unknown;
  /** The deployment's pool, when the run went to a pool of type push. */
  pushPool?: string;
}

/** Create the run of schedule `id` for `time`, deduplicated by `messageId` and by (schedule, time). */
export async function fireScheduleAt(
  sql: Sql,
  id: string,
  time: Date,
  messageId: string | null,
): Promise<FireAtResult> {
  const target = await loadScheduleTarget(sql, id);
  if (target) {
    const spec = storedSpec(target.spec);
    const fires = fireTimesBetween(spec, time, new Date(time.getTime() + 1), 1).length > 0;
    if (!fires) {
      return { created: 0, skipped: "not a fire time of the schedule (it changed since)" };
    }
    const problem = parameterProblem(target);
    if (problem) {
      await sql`update edgeflow.schedules set last_error = ${JSON.stringify(problem)}::text::jsonb
                 where id = ${id}::uuid`;
      return { created: 0, error: problem };
    }
  }
  // No target: the SQL side records the message and answers "no such schedule".
  const [row] = await sql<{ r: FireAtResult; due: boolean }>`
    select edgeflow.fire_schedule_at(${id}::uuid, ${time.toISOString()}::timestamptz,
                                     ${messageId}) as r,
           edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  const [pool] = target
    ? await sql<{ type: string }>`select type from edgeflow.pools where name = ${target.pool}`
    : [];
  return {
    ...row.r,
    ...(pool?.type === "push" && row.r.created > 0 ? { pushPool: target!.pool } : {}),
  };
}
