/**
 * What the run page draws besides the run document: the timeline's tasks and
 * events (all of them, not the page's latest 200), and the first page of logs.
 */
import type { Sql } from "../db/sql.ts";
import { type LogPage, readLogs } from "../engine/logs.ts";
import type { TimelineEvent, TimelineTask } from "./timeline_svg.tsx";
import { PAGE_LINES } from "./run_logs.tsx";

/** Task and step events read for a timeline at most: 5,000 is ~1,600 attempts. */
const TIMELINE_EVENTS = 5000;

/** The run's tasks and its task and step events, oldest first. */
export async function runTimeline(
  sql: Sql,
  runId: string,
): Promise<{ tasks: TimelineTask[]; events: TimelineEvent[] }> {
  const [row] = await sql<{ tasks: TimelineTask[] | null; events: TimelineEvent[] | null }>`
    select
      (select jsonb_agg(jsonb_build_object(
                'id', t.id, 'slug', t.slug, 'index', t.task_index,
                'map', fs.map_from is not null, 'created_at', edgeflow.iso(t.created_at))
              order by t.slug, t.task_index)
         from edgeflow.tasks t
         join edgeflow.runs r on r.id = t.run_id
         join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
        where t.run_id = ${runId}::uuid) as tasks,
      (select jsonb_agg(e order by (e ->> 'id')::bigint) from (
         select jsonb_build_object('id', ev.id, 'kind', ev.kind, 'step', ev.step, 'task', ev.task,
                  'attempt', ev.attempt, 'from', ev.from_status, 'to', ev.to_status,
                  'at', edgeflow.iso(ev.at)) as e
           from edgeflow.event_log ev
          where ev.run_id = ${runId}::uuid and ev.kind in ('task', 'step')
          -- The index's order (see edgeflow.event_log).
          order by ev.row_id, ev.id limit ${TIMELINE_EVENTS}) x) as events`;
  return { tasks: row?.tasks ?? [], events: row?.events ?? [] };
}

/** The first lines of the run's logs (null: no such run). */
export function firstLogs(sql: Sql, runId: string): Promise<LogPage | null> {
  return readLogs(sql, runId, { after: 0, limit: PAGE_LINES });
}
