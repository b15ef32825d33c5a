/**
 * What the dashboard reads, one statement per page section. Run and
 * deployment documents come from the engine's own read models (`run_json`,
 * `list_runs`, `deployment_json`), so the dashboard shows what the API shows.
 */
import type { Sql } from "../db/sql.ts";
import { type RunDocument, type WaitingFor, withWaitingFor } from "../engine/runs.ts";
import type { RunEvent } from "../app/events_routes.ts";

/** A row of the runs list (`list_runs`). */
export interface RunRow {
  id: string;
  status: string;
  flow: string;
  version: number;
  deployment: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  cursor_at: string;
  /** Not started in time (edgeflow.mark_late_runs), still waiting to start. */
  late?: boolean;
  late_at?: string | null;
}

/** The engine's clock in ms: durations of unfinished things are measured to it. */
export async function engineNow(sql: Sql): Promise<number> {
  const [row] = await sql<{ now: string }>`select edgeflow.iso(edgeflow.now()) as now`;
  return Date.parse(row.now);
}

/** Runs newest first after a cursor, through the `runs_*_newest` indexes; one extra row tells if there is a next page. */
export async function listRuns(
  sql: Sql,
  f: { status?: string; flow?: string; deployment?: string; limit: number },
  cursor: { at: string; id: string } | null,
): Promise<RunRow[]> {
  const [row] = await sql<{ runs: RunRow[] }>`
    select edgeflow.list_runs(${f.status ?? null}, ${f.flow ?? null}, ${f.deployment ?? null},
                              ${f.limit + 1}::int, ${cursor?.at ?? null}::timestamptz,
                              ${cursor?.id ?? null}::uuid) as runs`;
  return row.runs;
}

/** Names for the filter menus (bounded: a menu of thousands helps nobody). */
export async function filterChoices(sql: Sql): Promise<{ flows: string[]; deployments: string[] }> {
  const [row] = await sql<{ flows: string[] | null; deployments: string[] | null }>`
    select (select jsonb_agg(name order by name) from
              (select name from edgeflow.flows order by name limit 200) f) as flows,
           (select jsonb_agg(name order by name) from
              (select name from edgeflow.deployments order by name limit 200) d) as deployments`;
  return { flows: row.flows ?? [], deployments: row.deployments ?? [] };
}

/** A run with its steps, the id of its latest event and its most recent events (oldest first). */
export async function runPage(
  sql: Sql,
  id: string,
): Promise<{ run: RunDocument; events: RunEvent[]; last_id: number } | null> {
  const [row] = await sql<
    {
      run: RunDocument | null;
      waiting: Record<string, WaitingFor> | null;
      events: RunEvent[] | null;
    }
  >`
    select edgeflow.run_json(${id}::uuid) as run, edgeflow.run_waiting_for(${id}::uuid) as waiting,
           (select jsonb_agg(e order by (e ->> 'id')::bigint) from (
              select jsonb_build_object('id', ev.id, 'kind', ev.kind, 'step', ev.step,
                       'task', ev.task, 'attempt', ev.attempt, 'from', ev.from_status,
                       'to', ev.to_status, 'at', edgeflow.iso(ev.at), 'error', ev.error) as e
                from edgeflow.event_log ev where ev.run_id = ${id}::uuid
               -- The index's order (see edgeflow.event_log): the scan stops at 200.
               order by ev.row_id desc, ev.id desc limit 200) x) as events`;
  if (!row?.run) return null;
  const events = row.events ?? [];
  const run = withWaitingFor(row.run, row.waiting);
  return { run, events, last_id: events.length ? events[events.length - 1].id : 0 };
}

/** Latest version of every flow, with its step count. */
export async function listFlows(sql: Sql): Promise<Record<string, unknown>[]> {
  return await sql`
    select distinct on (v.flow_name) v.flow_name as name, v.version, v.archived,
           edgeflow.iso(v.created_at) as created_at, v.definition ->> 'description' as description,
           jsonb_array_length(coalesce(v.definition -> 'steps', '[]')) as steps,
           (select count(*)::int from edgeflow.flow_versions x where x.flow_name = v.flow_name)
             as versions
      from edgeflow.flow_versions v order by v.flow_name, v.version desc limit 500`;
}

/** A flow's versions, newest first, each as `flow_version_json`. */
export async function flowVersions(sql: Sql, name: string): Promise<Record<string, unknown>[]> {
  const rows = await sql<{ v: Record<string, unknown> }>`
    select edgeflow.flow_version_json(id) as v from edgeflow.flow_versions
     where flow_name = ${name} order by version desc limit 100`;
  return rows.map((r) => r.v);
}

/** Every deployment as `deployment_json` (schedules included once the scheduler adds them). */
export async function listDeployments(sql: Sql): Promise<Record<string, unknown>[]> {
  const rows = await sql<{ d: Record<string, unknown> }>`
    select edgeflow.deployment_json(id) as d from edgeflow.deployments order by name limit 500`;
  return rows.map((r) => r.d);
}

/** Workers, most recently seen first, with the API's ONLINE/OFFLINE rule. */
export async function listWorkers(sql: Sql): Promise<Record<string, unknown>[]> {
  return await sql`
    select name, pool, handlers, capacity, heartbeat_seconds,
           edgeflow.iso(last_heartbeat_at) as last_heartbeat_at,
           extract(epoch from edgeflow.now() - last_heartbeat_at)::int as seconds_ago,
           case when last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * heartbeat_seconds)
                then 'ONLINE' else 'OFFLINE' end as status
      from edgeflow.workers order by last_heartbeat_at desc limit 500`;
}

/** A concurrency limit and the slots held under it. */
export interface LimitRow {
  kind: "tag" | "pool" | "queue" | "deployment";
  name: string;
  key: string;
  limit: number;
  in_use: number;
}

/** Every concurrency limit with its slots in use; null when concurrency limits are not installed. */
export async function concurrencyLimits(sql: Sql): Promise<LimitRow[] | null> {
  const [row] = await sql<{ c: LimitRow[] | null }>`select edgeflow.ui_concurrency() as c`;
  return row?.c ?? null;
}
