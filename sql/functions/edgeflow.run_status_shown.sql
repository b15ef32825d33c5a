-- The status a run document shows: WAITING for a RUNNING run whose only
-- live work is waiting steps (issue 16). Stored, such a run stays RUNNING,
-- the state every claim, result and sweep path treats as live.
CREATE OR REPLACE FUNCTION edgeflow.run_status_shown(p_run_id uuid, p_status text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select case when p_status = 'RUNNING'
                   and exists (select 1 from edgeflow.waits w where w.run_id = p_run_id)
                   and not exists (select 1 from edgeflow.tasks t where t.run_id = p_run_id
                                      and t.status in ('QUEUED', 'RUNNING'))
              then 'WAITING' else p_status end;
$function$;
