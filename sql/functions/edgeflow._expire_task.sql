-- One expired lease: count the crashed attempt and queue the task again when
-- attempts remain. Same lock order as complete/fail.
CREATE OR REPLACE FUNCTION edgeflow._expire_task(p_task_id uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_run_id uuid;
  r record;
  t record;
begin
  select run_id into v_run_id from edgeflow.tasks where id = p_task_id;
  select id, status into r from edgeflow.runs where id = v_run_id for update;
  select id, status, attempts, max_attempts, lease_expires_at, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id for update skip locked;
  if t.id is null or t.status <> 'RUNNING' or t.lease_expires_at >= edgeflow.now() then
    return 'skipped';
  end if;
  if r.status not in ('RUNNING', 'PENDING') then
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = edgeflow.now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return 'cancelled';
  end if;
  if t.attempts >= t.max_attempts then
    perform edgeflow._expire_final(p_task_id);
    return 'failed';
  end if;
  update edgeflow.tasks
     set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
         error = jsonb_build_object('message', format(
           'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
           'crashed', true)
   where id = p_task_id;
  perform edgeflow._requeue(p_task_id, edgeflow.now());
  return 'requeued';
end
$function$;
