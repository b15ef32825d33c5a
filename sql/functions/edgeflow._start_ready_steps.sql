-- Start the steps of a run that are ready: PENDING with no dependency left.
-- For a new run these are its roots; for a resumed one, its unfinished steps.
CREATE OR REPLACE FUNCTION edgeflow._start_ready_steps(p_run_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._start_steps(p_run_id, array(
    select slug from edgeflow.step_states
     where run_id = p_run_id and status = 'PENDING' and remaining_deps = 0
     order by step_index));
end
$function$;
