-- The wait of a suspended handler is over (edgeflow.suspend_task): append
-- `p_entry` ({event, key, payload} or {event, key, timeout: true}) to the
-- task's memo and queue it again. The caller has locked the run and deleted
-- the wait's row, which decided. The attempt count is taken back by one so
-- the claim (which counts one) hands out the same attempt: a resumption is
-- not a retry.
CREATE OR REPLACE FUNCTION edgeflow._resume_task(p_task_id uuid, p_entry jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  update edgeflow.tasks
     set status = 'QUEUED', waited = coalesce(waited, '[]'::jsonb) || jsonb_build_array(p_entry),
         attempts = greatest(attempts - 1, 0), available_at = edgeflow.now()
   where id = p_task_id and status = 'WAITING'
  returning run_id, slug into t;
  if not found then
    return;
  end if;
  update edgeflow.step_states set status = 'QUEUED'
   where run_id = t.run_id and slug = t.slug and status = 'WAITING';
  perform edgeflow._requeue(p_task_id, edgeflow.now());
end
$function$;
