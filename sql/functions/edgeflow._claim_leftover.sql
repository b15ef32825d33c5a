-- A message claim_tasks read but did not lease: settle it as the one-by-one
-- claim would. Rare by construction (the claim statement leases every
-- claimable task it locks), so this may take one message at a time.
CREATE OR REPLACE FUNCTION edgeflow._claim_leftover(p_queue text, p_msg_id bigint, p_task uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_run_status text;
begin
  select tk.id, tk.run_id, tk.status, tk.attempts, tk.max_attempts, tk.msg_id into t
    from edgeflow.tasks tk where tk.id = p_task for update skip locked;
  if not found then
    -- Locked by a transition in flight (it settles the message), or a message with no task.
    if not exists (select 1 from edgeflow.tasks where id = p_task) then
      perform pgmq.delete(p_queue, p_msg_id);
    end if;
    return;
  end if;
  if t.status not in ('QUEUED', 'RUNNING') or t.msg_id is distinct from p_msg_id then
    perform pgmq.delete(p_queue, p_msg_id);
    return;
  end if;
  select status into v_run_status from edgeflow.runs where id = t.run_id;
  if v_run_status not in ('PENDING', 'SCHEDULED', 'RUNNING') then
    perform pgmq.delete(p_queue, p_msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = edgeflow.now() where id = t.id;
    return;
  end if;
  if t.status = 'RUNNING' and t.attempts >= t.max_attempts then
    -- Its lease ran out on the last attempt before the sweep saw it.
    perform pgmq.archive(p_queue, p_msg_id);
    perform edgeflow._expire_final(t.id);
    return;
  end if;
  -- Claimable after all (its lock was released after the claim statement
  -- skipped it): visible again for the next claim.
  perform pgmq.set_vt(p_queue, p_msg_id, 0);
end
$function$;
