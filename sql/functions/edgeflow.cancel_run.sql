-- Cancel a run: queued work is removed at once; running tasks are told on
-- their next heartbeat, and the run is CANCELLING until they have ended.
CREATE OR REPLACE FUNCTION edgeflow.cancel_run(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
begin
  select id, status into r from edgeflow.runs where id = p_run_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    return jsonb_build_object('run_id', p_run_id, 'status', r.status, 'changed', false);
  end if;
  if exists (select 1 from edgeflow.tasks where run_id = p_run_id and status = 'RUNNING') then
    update edgeflow.runs set status = 'CANCELLING' where id = p_run_id;
    update edgeflow.step_states set status = 'CANCELLED', ended_at = edgeflow.now()
     where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'WAITING');
    delete from edgeflow.waits where run_id = p_run_id;
    delete from edgeflow.step_key_queue where run_id = p_run_id;
    perform edgeflow._cancel_queued_tasks(p_run_id);
  else
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
  return jsonb_build_object('run_id', p_run_id, 'changed', true,
    'status', (select status from edgeflow.runs where id = p_run_id));
end
$function$;
