-- Lock the run, then the task (skip locked: a locked task is in another
-- transition, so this lease cannot be current any more). Returns null when
-- the caller may go on, else the refusal to return.
CREATE OR REPLACE FUNCTION edgeflow._lock_for_result(p_task_id uuid, p_lease uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_run_id uuid;
  r record;
  t record;
begin
  select run_id into v_run_id from edgeflow.tasks where id = p_task_id;
  if v_run_id is null then
    return jsonb_build_object('error', 'not_found');
  end if;
  select id, status, version_lock into r from edgeflow.runs where id = v_run_id for update;
  select id, status, lease, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id for update skip locked;
  if t.id is null
     or not (t.status = 'RUNNING' and t.lease = p_lease
             or not r.version_lock and t.status in ('RUNNING', 'QUEUED')) then
    return jsonb_build_object('error', 'stale_lease', 'status', t.status);
  end if;
  if r.status not in ('RUNNING', 'PENDING') then
    -- A cancelled or failed run refuses late results; its task ends here.
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = edgeflow.now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return jsonb_build_object('error', 'run_not_running', 'status', r.status);
  end if;
  return null;
end
$function$;
