-- The tick's part of waits: every wait whose time has come (by
-- edgeflow.now()) ends, at most `p_limit` per pass, oldest first. A sleep,
-- or a wait with on_timeout "continue", completes with output null; any
-- other wait fails its step and run; a handler's wait queues its task again
-- (its waitForEvent throws a timeout error). A run locked right now (an event
-- resuming it) is skipped and looked at again next tick; the delete of the
-- wait's row decides between a timeout and a racing event, so the loser does
-- nothing. Returns how many waits ended.
CREATE OR REPLACE FUNCTION edgeflow.fire_wait_timeouts(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  w record;
  d record;
  v_ready text[];
  v_n integer := 0;
begin
  for w in
    select run_id, slug from edgeflow.waits
     where timeout_at <= v_now order by timeout_at limit p_limit
  loop
    perform 1 from edgeflow.runs where id = w.run_id for update skip locked;
    continue when not found;
    delete from edgeflow.waits
     where run_id = w.run_id and slug = w.slug and timeout_at <= v_now
    returning event_name, event_key, on_timeout, created_at, timeout_at, task_id into d;
    continue when not found;
    if d.task_id is not null then
      -- A handler's wait: its task runs again, and its waitForEvent throws a timeout.
      perform edgeflow._resume_task(d.task_id, jsonb_build_object(
        'event', d.event_name, 'key', d.event_key, 'timeout', true));
    elsif d.on_timeout = 'fail' then
      perform edgeflow._fail_run(w.run_id, w.slug, jsonb_build_object(
        'code', 'wait_timeout',
        'message', format('no event "%s" with key "%s" arrived within %s seconds',
                          d.event_name, d.event_key,
                          extract(epoch from d.timeout_at - d.created_at)::bigint)));
    else
      v_ready := edgeflow._complete_wait(w.run_id, w.slug, null);
      if cardinality(v_ready) > 0 then
        perform edgeflow._start_steps(w.run_id, v_ready);
      end if;
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;
