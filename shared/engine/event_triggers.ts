/**
 * Deployments started by events (issue 16): a deployment's `triggers`
 * entry `{event, match, parameters, debounce}` starts one run per matching
 * event, or with `debounce` one run per burst of events with the same key
 * (the last event's payload, once `debounce` seconds passed without
 * another). Runs are started like `POST /trigger/:deployment` starts them
 * (deployment defaults overlaid with the rendered parameters, checked
 * against the flow's schema) with the event id as their idempotency key, so
 * an event processed twice (the tick's re-processing after a crash) starts
 * its run once.
 */
import type { Sql } from "../db/sql.ts";
import { mergeParameters, validateParameters } from "../api/params.ts";
import { renderValueTemplate } from "../api/key_template.ts";
import { startRun } from "./runs.ts";
import type { Logger } from "../http/logger.ts";
import type { DeploymentTarget } from "./deployment_target.ts";

/** One trigger an event fires (edgeflow.event_triggers / due_debounces). */
export interface FiredTrigger {
  deployment_id: string;
  deployment: string;
  index: number;
  parameters: Record<string, unknown>;
  debounce?: number | null;
}

/** The event as the trigger's template sees it (`{{ event.key }}`, `{{ event.payload/ref }}`). */
export interface TriggerEvent {
  id: string;
  name: string;
  key: string;
  payload: unknown;
}

/** A run an event could not start, and why (reported in the 202 and the log). */
export interface TriggerRefusal {
  deployment: string;
  trigger: number;
  message: string;
}

/** Start the run of one trigger for `event`: its run id, or why not. */
export async function startTriggeredRun(
  sql: Sql,
  trigger: FiredTrigger,
  event: TriggerEvent,
): Promise<{ run_id: string; created: boolean } | { refused: TriggerRefusal }> {
  const refuse = (message: string) => ({
    refused: { deployment: trigger.deployment, trigger: trigger.index, message },
  });
  const [row] = await sql<{ t: DeploymentTarget | null }>`
    select edgeflow.deployment_target(${trigger.deployment}) as t`;
  const target = row?.t;
  if (!target) return refuse("the deployment no longer exists");
  if (target.paused) return refuse("the deployment is paused");
  if (!target.version_id) return refuse("the deployment has no flow version");
  const rendered = renderValueTemplate(trigger.parameters, { event }) as Record<string, unknown>;
  const parameters = mergeParameters(target.parameters, rendered);
  const errors = validateParameters(target.schema, parameters);
  if (errors.length > 0) {
    return refuse(
      `parameters do not match the flow's schema: ${
        errors.map((e) => `${e.path} ${e.message}`).join("; ")
      }`,
    );
  }
  const result = await startRun(sql, target.version_id, parameters, {
    deploymentId: trigger.deployment_id,
    pool: target.pool,
    queue: target.queue,
    tags: target.tags,
    idempotencyScope: `event:${trigger.deployment_id}#${trigger.index}`,
    idempotencyKey: event.id,
  });
  if (result.error !== undefined) return refuse(`the run was refused: ${result.error}`);
  return { run_id: result.run_id, created: result.created };
}

/** Fire the triggers of a just-recorded event: runs started, debounced bursts extended. */
export async function fireTriggers(
  sql: Sql,
  event: TriggerEvent,
): Promise<{ started: number; refused: TriggerRefusal[] }> {
  const [row] = await sql<{ t: FiredTrigger[] }>`
    select edgeflow.event_triggers(${event.id}::uuid) as t`;
  let started = 0;
  const refused: TriggerRefusal[] = [];
  for (const trigger of row.t) {
    if (trigger.debounce) {
      await sql`select edgeflow.debounce_trigger(${trigger.deployment_id}::uuid,
                  ${trigger.index}::int, ${event.id}::uuid, ${trigger.debounce}::int)`;
      continue;
    }
    const r = await startTriggeredRun(sql, trigger, event);
    if ("refused" in r) refused.push(r.refused);
    else if (r.created) started++;
  }
  return { started, refused };
}

/** The tick's part: start the runs of debounced bursts that have gone quiet. */
export async function startDueDebounces(
  sql: Sql,
  log?: Logger,
  limit = 100,
): Promise<number> {
  const [row] = await sql<{ d: (FiredTrigger & { event: TriggerEvent })[] }>`
    select edgeflow.due_debounces(${limit}::int) as d`;
  let started = 0;
  for (const due of row.d) {
    const r = await startTriggeredRun(sql, due, due.event);
    if ("refused" in r) log?.("warn", "debounced trigger refused", { ...r.refused });
    else if (r.created) started++;
    await sql`select edgeflow.debounce_done(${due.deployment_id}::uuid, ${due.index}::int,
                                            ${due.event.id}::uuid)`;
  }
  return started;
}
