-- The run is over: finish it with `p_status`, cancel whatever has not finished.
CREATE OR REPLACE FUNCTION edgeflow._finish_run(p_run_id uuid, p_status text, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.runs
     set status = p_status, error = coalesce(p_error, error), ended_at = edgeflow.now()
   where id = p_run_id;
  update edgeflow.step_states
     set status = 'CANCELLED', ended_at = edgeflow.now()
   where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'RUNNING', 'WAITING');
  delete from edgeflow.waits where run_id = p_run_id;
  delete from edgeflow.step_key_queue where run_id = p_run_id;
  perform edgeflow._cancel_queued_tasks(p_run_id);
end
$function$;
