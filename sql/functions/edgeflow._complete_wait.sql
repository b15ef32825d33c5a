-- A WAITING step is over (its event came, its sleep or `continue` timeout
-- passed): it completes with `p_output`. The caller has locked the run and
-- deleted the wait's row. Returns the dependents that became ready.
CREATE OR REPLACE FUNCTION edgeflow._complete_wait(p_run_id uuid, p_slug text, p_output jsonb)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.step_states
     set status = 'COMPLETED', output = p_output, ended_at = edgeflow.now()
   where run_id = p_run_id and slug = p_slug and status = 'WAITING';
  if not found then
    return '{}';
  end if;
  return edgeflow._step_done(p_run_id,
                             (select flow_version_id from edgeflow.runs where id = p_run_id),
                             p_slug);
end
$function$;
