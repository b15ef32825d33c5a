-- Remove a run's queued tasks and their messages, and its suspended ones
-- (WAITING, no message: ctx.waitForEvent). Tasks are taken with
-- `skip locked`: one locked by a claimer in flight is cancelled by that
-- claimer when it sees the run's state, or later by the sweep.
CREATE OR REPLACE FUNCTION edgeflow._cancel_queued_tasks(p_run_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select id, queue_name, msg_id from edgeflow.tasks
     where run_id = p_run_id and status in ('QUEUED', 'WAITING')
       for update skip locked
  loop
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', ended_at = edgeflow.now() where id = t.id;
  end loop;
end
$function$;
