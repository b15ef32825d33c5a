-- The waits an event ends: every open wait for its name and key that began
-- before the event was recorded (after_seq, see edgeflow._start_wait) and
-- times out after it, whose `match` the payload satisfies. Each
-- completes with the payload as its output and starts the steps that became
-- ready; a handler's wait queues its task again with the event. Runs are locked in id order, then the wait's row is deleted: the
-- delete decides, so a racing timeout (edgeflow.fire_wait_timeouts), a
-- second delivery of this event or another event ends a wait at most once.
-- Returns how many waits this call ended.
CREATE OR REPLACE FUNCTION edgeflow.resume_waits(p_event_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  w record;
  v_ready text[];
  v_n integer := 0;
begin
  select name, key, payload, received_at, seq into e
    from edgeflow.inbound_events where id = p_event_id;
  if not found then
    return 0;
  end if;
  for w in
    select wt.run_id, wt.slug, wt.task_id from edgeflow.waits wt
     where wt.event_name = e.name and wt.event_key = e.key
       and wt.after_seq < e.seq and e.received_at < wt.timeout_at
       and edgeflow._event_matches(e.payload, wt.match)
     order by wt.run_id, wt.slug
  loop
    perform 1 from edgeflow.runs where id = w.run_id for update;
    delete from edgeflow.waits where run_id = w.run_id and slug = w.slug;
    continue when not found;
    if w.task_id is not null then
      -- A handler's wait (edgeflow.suspend_task): its task runs again with the event.
      perform edgeflow._resume_task(w.task_id, jsonb_build_object(
        'event', e.name, 'key', e.key, 'payload', e.payload, 'id', p_event_id));
    else
      v_ready := edgeflow._complete_wait(w.run_id, w.slug, e.payload);
      if cardinality(v_ready) > 0 then
        perform edgeflow._start_steps(w.run_id, v_ready);
      end if;
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;
