-- A handler's `ctx.waitForEvent` (issue 16): the task's attempt ends as
-- "suspended", a fenced result like a completion (the lease must be the
-- task's current one, the run live). The task becomes WAITING with no lease,
-- no message and no slot (tasks_release_slots gives its slots back), its step
-- WAITING, and a row of edgeflow.waits with the task's id remembers what ends
-- it; resume_waits or fire_wait_timeouts then queue the task again
-- (edgeflow._resume_task) with the event, or the timeout, appended to
-- `tasks.waited`, which the next claim hands to the handler. A step's
-- per-key `concurrency` slots stay held meanwhile (the step is in progress).
--
-- p_wait: {seq, event, key, match, timeout, lookback}. `seq` is how many
-- waits the handler has passed (its memo's length): a suspension for another
-- one is out of step with the task (an old attempt, a handler that is not
-- deterministic) and refused. Locks as _start_wait: the run (via
-- _lock_for_result), then the event's advisory lock, so an event is either
-- seen by the lookback/after_seq here or finds this wait.
CREATE OR REPLACE FUNCTION edgeflow.suspend_task(p_task_id uuid, p_lease uuid, p_wait jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  v_now timestamptz := edgeflow.now();
  t record;
  v_key text := coalesce(p_wait ->> 'key', '');
  v_payload jsonb;
begin
  if v_problem is not null then
    return v_problem;
  end if;
  select tk.id, tk.run_id, tk.slug, tk.status, tk.lease, tk.queue_name, tk.msg_id, tk.waited,
         fs.map_from
    into t
    from edgeflow.tasks tk
    join edgeflow.runs r on r.id = tk.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = tk.slug
   where tk.id = p_task_id;
  if t.status <> 'RUNNING' or t.lease is distinct from p_lease then
    return jsonb_build_object('error', 'stale_lease', 'status', t.status);
  end if;
  if t.map_from is not null then
    return jsonb_build_object('error', 'not_suspendable',
                              'message', 'waitForEvent is not available in a map step''s tasks');
  end if;
  if (p_wait ->> 'seq')::integer <> coalesce(jsonb_array_length(t.waited), 0) then
    return jsonb_build_object('error', 'not_suspendable', 'message', format(
      'this attempt has passed %s waits; the suspension is for wait %s',
      coalesce(jsonb_array_length(t.waited), 0), p_wait ->> 'seq'));
  end if;

  perform pgmq.delete(t.queue_name, t.msg_id);
  update edgeflow.tasks
     set status = 'WAITING', lease = null, lease_expires_at = null, msg_id = null
   where id = p_task_id;
  update edgeflow.step_states set status = 'WAITING'
   where run_id = t.run_id and slug = t.slug and status in ('RUNNING', 'QUEUED');

  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.event:' || (p_wait ->> 'event') || '/' || v_key));
  if coalesce((p_wait ->> 'lookback')::integer, 0) > 0 then
    select e.payload into v_payload from edgeflow.inbound_events e
     where e.name = p_wait ->> 'event' and e.key = v_key
       and e.received_at >= v_now - make_interval(secs => (p_wait ->> 'lookback')::integer)
       and edgeflow._event_matches(e.payload, p_wait -> 'match')
     order by e.received_at desc limit 1;
    if found then
      perform edgeflow._resume_task(p_task_id, jsonb_build_object(
        'event', p_wait ->> 'event', 'key', v_key, 'payload', v_payload));
      return jsonb_build_object('ok', true, 'task', p_task_id, 'resumed', true);
    end if;
  end if;
  insert into edgeflow.waits (run_id, slug, event_name, event_key, match, timeout_at, on_timeout,
                              created_at, after_seq, task_id)
  values (t.run_id, t.slug, p_wait ->> 'event', v_key, p_wait -> 'match',
          v_now + make_interval(secs => (p_wait ->> 'timeout')::integer), 'fail', v_now,
          coalesce((select max(e.seq) from edgeflow.inbound_events e
                     where e.name = p_wait ->> 'event' and e.key = v_key), 0),
          p_task_id);
  return jsonb_build_object('ok', true, 'task', p_task_id, 'resumed', false);
end
$function$;
