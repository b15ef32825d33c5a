/**
 * Figures for the dashboard's charts, read through the indexes the run lists
 * use: runs per hour of the last 24 hours by state (runs_newest, a range of
 * created_at), and success rate and duration percentiles over the last N
 * finished runs of a flow (runs_flow_newest) or deployment
 * (runs_deployment_newest).
 */
import type { Sql } from "../db/sql.ts";

/** One hour of the activity chart: runs created in it, by their state now. */
export interface ActivityHour {
  /** Start of the hour, ISO 8601 UTC. */
  hour: string;
  counts: Record<string, number>;
}

/** Last-N figures of a flow or deployment. */
export interface RunStats {
  /** Finished runs looked at (≤ N). */
  runs: number;
  completed: number;
  /** completed ÷ runs, null without runs. */
  success_rate: number | null;
  /** Seconds from start to end, over the runs that started. */
  p50: number | null;
  p95: number | null;
  /** Oldest first: each run's state and duration, for the bar strip. */
  recent: { status: string; seconds: number | null }[];
}

const HOURS = 24;

/** The last 24 hours, one entry per hour (empty hours included), oldest first. */
export async function activity(sql: Sql): Promise<ActivityHour[]> {
  const rows = await sql<{ hour: string; status: string; n: number }>`
    select to_char(pg_catalog.date_trunc('hour', r.created_at, 'UTC') at time zone 'UTC',
                   'YYYY-MM-DD"T"HH24:00:00"Z"') as hour,
           r.status, count(*)::int as n
      from edgeflow.runs r
     where r.created_at >= pg_catalog.date_trunc('hour', edgeflow.now(), 'UTC')
                           - interval '23 hours'
     group by 1, 2`;
  const [{ now }] = await sql<{ now: string }>`
    select to_char(pg_catalog.date_trunc('hour', edgeflow.now(), 'UTC') at time zone 'UTC',
                   'YYYY-MM-DD"T"HH24:00:00"Z"') as now`;
  const end = Date.parse(now);
  const hours: ActivityHour[] = [];
  for (let i = HOURS - 1; i >= 0; i--) {
    hours.push({
      hour: new Date(end - i * 3_600_000).toISOString().replace(".000", ""),
      counts: {},
    });
  }
  for (const r of rows) {
    const h = hours.find((x) => x.hour === r.hour);
    if (h) h.counts[r.status] = (h.counts[r.status] ?? 0) + r.n;
  }
  return hours;
}

/** Last `n` finished runs of a flow or of a deployment. */
export async function runStats(
  sql: Sql,
  of: { flow: string } | { deployment: string },
  n = 100,
): Promise<RunStats> {
  const flow = "flow" in of ? of.flow : null;
  const deployment = "deployment" in of ? of.deployment : null;
  const rows = await sql<{ status: string; seconds: number | null }>`
    select x.status, x.seconds from (
      select r.status, r.created_at,
             extract(epoch from r.ended_at - r.started_at)::float8 as seconds
        from edgeflow.runs r
       where (${flow}::text is null or r.flow_name = ${flow}::text)
         and (${deployment}::text is null
              or r.deployment_id = (select d.id from edgeflow.deployments d
                                     where d.name = ${deployment}::text))
         and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
       order by r.created_at desc limit ${n}::int) x
     order by x.created_at`;
  const completed = rows.filter((r) => r.status === "COMPLETED").length;
  const durations = rows.map((r) => r.seconds).filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  return {
    runs: rows.length,
    completed,
    success_rate: rows.length ? completed / rows.length : null,
    p50: percentile(durations, 0.5),
    p95: percentile(durations, 0.95),
    recent: rows,
  };
}

/** Linear interpolation between closest ranks (Postgres' percentile_cont). */
export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}
