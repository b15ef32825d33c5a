-- Late runs (Prefect's Late state), decided by the tick: a run still
-- SCHEDULED or PENDING p_late_seconds after its scheduled time (its creation
-- when it has none; EDGEFLOW_LATE_SECONDS, default 60) is flagged once:
-- runs.late_at is set and a `run` event from its status to LATE is written,
-- which the run's event stream, GET /trigger/runs (`late`) and the dashboard
-- show. Its status does not change: the run starts as any other when a worker
-- comes. At most p_limit runs a pass, oldest first, read through
-- runs_not_started (only runs not started and not flagged yet), and a run
-- another transaction holds is left to the next pass. Returns the number
-- flagged.
CREATE OR REPLACE FUNCTION edgeflow.mark_late_runs(p_late_seconds integer DEFAULT 60, p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  v_ids uuid[];
begin
  with due as (
    select r.id from edgeflow.runs r
     where r.status in ('SCHEDULED', 'PENDING') and r.late_at is null
       and coalesce(r.scheduled_time, r.created_at) < v_now - make_interval(secs => p_late_seconds)
     order by coalesce(r.scheduled_time, r.created_at)
     limit p_limit
       for update skip locked
  ), marked as (
    update edgeflow.runs r set late_at = v_now from due where r.id = due.id
    returning r.id, r.status, r.created_at
  ), logged as (
    insert into edgeflow.events (run_id, kind, from_status, to_status, at, run_created_at)
    select m.id, 'run', m.status, 'LATE', v_now, m.created_at from marked m
    returning run_id
  )
  select coalesce(array_agg(l.run_id), '{}') into v_ids from logged l;
  perform edgeflow._notify_event(id) from unnest(v_ids) as u(id);
  return cardinality(v_ids);
end
$function$;
