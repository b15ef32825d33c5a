-- Start steps whose dependencies are complete: one task each, or one per
-- element for a map step. An empty map completes at once with [] and may make
-- further steps ready, hence the work list.
CREATE OR REPLACE FUNCTION edgeflow._start_steps(p_run_id uuid, p_slugs text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
begin
  select status, awaiting_slot into r from edgeflow.runs where id = p_run_id;
  if r.awaiting_slot is not null then
    return;
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    update edgeflow.step_states set status = 'CANCELLED', ended_at = edgeflow.now()
     where run_id = p_run_id and status = 'PENDING';
    return;
  end if;
  perform edgeflow._start_steps_unguarded(p_run_id, p_slugs);
end
$function$;
