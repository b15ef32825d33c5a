-- list_runs (0010) again, same signature and output, reading through the
-- index that matches its filters.
--
-- Why: 0010's single statement says `(p_status is null or r.status =
-- p_status)`, which the planner cannot turn into an index condition, so every
-- filter was applied while walking runs_newest. A status or flow with few
-- runs then read the whole index: 25 ms at 100,000 runs for a status with
-- none, growing with the table (measured for the dashboard, tests/bench/ui.ts).
-- One static statement per leading filter lets each use its own index
-- (runs_deployment_newest, runs_status_newest, runs_flow_newest, runs_newest).
--
-- The cursor is always a row comparison, `(created_at, id) < (at, id)`, with
-- +infinity standing in for "no cursor": an index condition, so a page deep
-- in the list costs what the first page costs.
CREATE OR REPLACE FUNCTION edgeflow.list_runs(p_status text, p_flow text, p_deployment text, p_limit integer, p_before_at timestamp with time zone, p_before_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_at timestamptz := coalesce(p_before_at, 'infinity');
  v_id uuid := coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  v_dep uuid;
  v_ids uuid[];
begin
  if p_deployment is not null then
    select id into v_dep from edgeflow.deployments where name = p_deployment;
    if v_dep is null then
      return '[]';
    end if;
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.deployment_id = v_dep and (r.created_at, r.id) < (v_at, v_id)
         and (p_status is null or r.status = p_status)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.deployment_id, r.created_at desc, r.id desc limit p_limit);
  elsif p_status is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.status = p_status and (r.created_at, r.id) < (v_at, v_id)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.status, r.created_at desc, r.id desc limit p_limit);
  elsif p_flow is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.flow_name = p_flow and (r.created_at, r.id) < (v_at, v_id)
       order by r.flow_name, r.created_at desc, r.id desc limit p_limit);
  else
    v_ids := array(
      select r.id from edgeflow.runs r
       where (r.created_at, r.id) < (v_at, v_id)
       order by r.created_at desc, r.id desc limit p_limit);
  end if;

  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', r.id, 'status', edgeflow.run_status_shown(r.id, r.status), 'flow', r.flow_name, 'version', r.version,
             'deployment', d.name, 'parameters', r.parameters, 'error', r.error,
             'scheduled_time', edgeflow.iso(r.scheduled_time),
             'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
             'ended_at', edgeflow.iso(r.ended_at),
             'late', r.late_at is not null and r.status in ('SCHEDULED', 'PENDING'),
             'late_at', edgeflow.iso(r.late_at),
             'cursor_at', to_char(r.created_at at time zone 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           order by r.created_at desc, r.id desc), '[]')
      from edgeflow.runs r
      left join edgeflow.deployments d on d.id = r.deployment_id
     where r.id = any(v_ids));
end
$function$;
