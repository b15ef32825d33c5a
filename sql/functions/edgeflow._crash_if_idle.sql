-- Crash a RUNNING run that has nothing left that could finish it. Locks the
-- run first (the lock order of 0006), then looks again.
CREATE OR REPLACE FUNCTION edgeflow._crash_if_idle(p_run_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform 1 from edgeflow.runs where id = p_run_id for update;
  if not exists (
       select 1 from edgeflow.runs r
        where r.id = p_run_id and r.status = 'RUNNING' and r.awaiting_slot is null
          and r.remaining_steps > 0
          and not exists (select 1 from edgeflow.tasks t
                           where t.run_id = r.id and t.status in ('QUEUED', 'RUNNING'))
          -- A waiting step, or one in line for a key's slot (issue 16), will finish it.
          and not exists (select 1 from edgeflow.waits w where w.run_id = r.id)
          and not exists (select 1 from edgeflow.step_key_queue q where q.run_id = r.id)
          and not exists (select 1 from edgeflow.tasks t
                            join edgeflow.runs c on c.parent_task_id = t.id
                           where t.run_id = r.id
                             and c.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')))
  then
    return false;
  end if;
  perform edgeflow._finish_run(p_run_id, 'CRASHED', jsonb_build_object(
    'message', 'the run had no queued or running task left to finish it', 'crashed', true));
  return true;
end
$function$;
