/**
 * Events from outside (issue 16): `POST /trigger/events` records one, then
 * processes it: the waits it ends (edgeflow.resume_waits), the runs its
 * deployments' `cancel_on` names (edgeflow.cancel_on_event) and the runs
 * their `triggers` start (event_triggers.ts).
 *
 * Recording and processing are two transactions on purpose. Recording holds
 * the advisory lock of the event's name and key (as a beginning wait does,
 * so the two never miss each other) and nothing else; processing then locks
 * runs, in id order, without that lock held. In one transaction, a worker's
 * completion that starts a wait (holding its run, asking for the event lock)
 * and an event (holding the event lock, asking for that run) could deadlock.
 * An event recorded but never processed (the process died between the two)
 * is processed by the tick (`processStaleEvents`); every effect is
 * idempotent (a wait's row is deleted once, a cancelled run stays cancelled,
 * a triggered run has the event id as its idempotency key).
 */
import type { Sql } from "../db/sql.ts";
import { afterSubflowsDue } from "./subflows.ts";
import { fireTriggers, startDueDebounces, type TriggerRefusal } from "./event_triggers.ts";
import type { Logger } from "../http/logger.ts";
import type { EventInput } from "../api/event_schema.ts";
import { publishWaitWakeups, type WaitWake } from "../qstash/wait_wakeups.ts";

/** An event as stored (edgeflow.inbound_event_json). */
export interface EventDocument {
  id: string;
  name: string;
  key: string;
  payload: unknown;
  dedupe_id: string | null;
  received_at: string;
  processed_at: string | null;
  runs_resumed: number;
  runs_started: number;
}

/** What processing one event did. */
export interface EventEffects {
  runs_resumed: number;
  runs_cancelled: number;
  runs_started: number;
  refused: TriggerRefusal[];
}

/** `POST /trigger/events`' answer. `duplicate`: the id was seen before, nothing was done. */
export interface EmitResult extends EventEffects {
  event: EventDocument;
  duplicate: boolean;
}

/** Record an event and process it. */
export async function emitEvent(sql: Sql, input: EventInput): Promise<EmitResult> {
  const [row] = await sql<{ r: { event: EventDocument; created: boolean } }>`
    select edgeflow.record_event(${input.name}, ${input.key},
                                 ${JSON.stringify(input.payload)}::text::jsonb,
                                 ${input.id ?? null}) as r`;
  if (!row.r.created) {
    return {
      event: row.r.event,
      duplicate: true,
      runs_resumed: 0,
      runs_cancelled: 0,
      runs_started: 0,
      refused: [],
    };
  }
  const effects = await processEvent(sql, row.r.event);
  return { event: { ...row.r.event, ...countsOf(effects) }, duplicate: false, ...effects };
}

function countsOf(e: EventEffects) {
  return { runs_resumed: e.runs_resumed, runs_started: e.runs_started };
}

/** Everything an event does to runs; safe to repeat. */
export async function processEvent(sql: Sql, event: EventDocument): Promise<EventEffects> {
  const [row] = await sql<{ resumed: number; due: boolean }>`
    select edgeflow.resume_waits(${event.id}::uuid) as resumed, edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  const [cancel] = await sql<{ n: number }>`
    select edgeflow.cancel_on_event(${event.id}::uuid) as n`;
  const fired = await fireTriggers(sql, event);
  const effects = {
    runs_resumed: row.resumed,
    runs_cancelled: cancel.n,
    runs_started: fired.started,
    refused: fired.refused,
  };
  const counts = countsOf(effects);
  await sql`
    update edgeflow.inbound_events
       set processed_at = edgeflow.now(), runs_resumed = runs_resumed + ${counts.runs_resumed}::int,
           runs_started = runs_started + ${counts.runs_started}::int
     where id = ${event.id}::uuid`;
  return effects;
}

/**
 * The tick's part: process again the events left unprocessed for more than
 * `graceSeconds` (their request died between recording and processing).
 */
export async function processStaleEvents(sql: Sql, graceSeconds = 30, limit = 100) {
  const rows = await sql<{ e: EventDocument }>`
    select edgeflow.inbound_event_json(id) as e from edgeflow.inbound_events
     where processed_at is null
       and received_at < edgeflow.now() - make_interval(secs => ${graceSeconds}::int)
     order by received_at limit ${limit}::int`;
  for (const { e } of rows) await processEvent(sql, e);
  return rows.length;
}

/** Recorded events, newest first, by name and key. */
export async function listEvents(
  sql: Sql,
  q: { name?: string; key?: string; limit: number },
): Promise<EventDocument[]> {
  const rows = await sql<{ e: EventDocument }>`
    select edgeflow.inbound_event_json(id) as e from edgeflow.inbound_events
     where (${q.name ?? null}::text is null or name = ${q.name ?? null})
       and (${q.key ?? null}::text is null or key = ${q.key ?? null})
     order by received_at desc, id desc limit ${q.limit}::int`;
  return rows.map((r) => r.e);
}

/** What the tick did for events and waits. */
export interface EventsTickReport {
  /** Waits and sleeps whose time came. */
  timeouts: number;
  /** Runs started for debounced bursts that went quiet. */
  debounced: number;
  /** Events processed again after a crash left them unprocessed. */
  reprocessed: number;
  /** Events older than the retention deleted. */
  pruned: number;
  /** Steps in line for a per-key slot started by the tick's catch-up. */
  steps_admitted: number;
  /** QStash wake-ups published for waits that had none (QStash configured). */
  wakeups_published: number;
}

/** The tick's pass over waits, debounced triggers, stored events and steps in line for a key. */
export async function eventsTick(
  sql: Sql,
  log?: Logger,
  wake?: WaitWake | null,
): Promise<EventsTickReport> {
  const [row] = await sql<{ timeouts: number; pruned: number; admitted: number; due: boolean }>`
    select edgeflow.fire_wait_timeouts() as timeouts, edgeflow.prune_inbound_events() as pruned,
           edgeflow.admit_queued_steps() as admitted, edgeflow.subflows_due() as due`;
  await afterSubflowsDue(sql, row.due);
  const reprocessed = await processStaleEvents(sql);
  const debounced = await startDueDebounces(sql, log);
  const published = wake ? await publishWaitWakeups(sql, wake, log ?? (() => {})) : 0;
  return {
    timeouts: row.timeouts,
    debounced,
    reprocessed,
    pruned: row.pruned,
    steps_admitted: row.admitted,
    wakeups_published: published,
  };
}
