-- A step failed for good: the step and the run fail with its error.
CREATE OR REPLACE FUNCTION edgeflow._fail_run(p_run_id uuid, p_slug text, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.step_states set status = 'FAILED', error = p_error, ended_at = edgeflow.now()
   where run_id = p_run_id and slug = p_slug;
  perform edgeflow._finish_run(p_run_id, 'FAILED',
                               jsonb_build_object('step', p_slug) || coalesce(p_error, '{}'));
end
$function$;
