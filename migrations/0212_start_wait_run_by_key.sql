-- start_wait_run_by_key: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow._start_wait.sql
-- Start a step that waits (issue 16): `wait` for an event or `sleep`. It
-- holds no task, no worker slot and no lease: the step becomes WAITING and a
-- row of edgeflow.waits remembers what ends it. A `lookback` event already
-- received, or a sleep already over, completes it at once. Returns the
-- dependents that became ready (as _step_done does), or null when the run
-- failed here (a key template naming nothing).
--
-- An event wait takes the advisory lock of its event name and key, as
-- edgeflow.record_event does, so an event is either recorded before this
-- look back (and found by it) or after this wait is committed (and found by
-- edgeflow.resume_waits): never missed by both.
CREATE OR REPLACE FUNCTION edgeflow._start_wait(p_run_id uuid, p_slug text, p_spec jsonb)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  r record;
  v_ctx jsonb;
  v_key text;
  v_at timestamptz;
  v_payload jsonb;
begin
  select ru.parameters, fs.depends_on into r
    from edgeflow.runs ru
    join edgeflow.flow_steps fs on fs.flow_version_id = ru.flow_version_id and fs.slug = p_slug
   where ru.id = p_run_id;
  update edgeflow.step_states
     set status = 'WAITING', remaining_tasks = 0, total_tasks = 0, queued_at = v_now,
         started_at = v_now
   where run_id = p_run_id and slug = p_slug;
  -- `is true`: with `status = 'PENDING'` the planner took runs_status_newest
  -- (status, created_at, id) over the primary key and walked every PENDING
  -- entry, dead ones included: 7.1 of a start_run's 12.5 ms with 160,000
  -- runs (the waits bench's seeding, auto_explain).
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
   where id = p_run_id and (status = 'PENDING') is true;

  if not p_spec ? 'event' then
    v_at := case when p_spec ? 'until' then (p_spec ->> 'until')::timestamptz
                 else v_now + make_interval(secs => (p_spec ->> 'sleep')::double precision) end;
    if v_at <= v_now then
      return edgeflow._complete_wait(p_run_id, p_slug, null);
    end if;
    insert into edgeflow.waits (run_id, slug, timeout_at, on_timeout, created_at)
    values (p_run_id, p_slug, v_at, 'continue', v_now);
    return '{}';
  end if;

  v_ctx := jsonb_build_object('run', r.parameters, 'deps', (
    select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}') from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.slug = any(r.depends_on)));
  v_key := edgeflow._render_template(coalesce(p_spec ->> 'key', ''), v_ctx);
  if v_key is null then
    perform edgeflow._fail_run(p_run_id, p_slug, jsonb_build_object(
      'code', 'wait_key', 'message', format('the wait key "%s" refers to nothing in this run',
                                            p_spec ->> 'key')));
    return null;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.event:' || (p_spec ->> 'event') || '/' || v_key));
  if coalesce((p_spec ->> 'lookback')::integer, 0) > 0 then
    -- The latest matching event within the lookback (inbound_events_name_key).
    select e.payload into v_payload from edgeflow.inbound_events e
     where e.name = p_spec ->> 'event' and e.key = v_key
       and e.received_at >= v_now - make_interval(secs => (p_spec ->> 'lookback')::integer)
       and edgeflow._event_matches(e.payload, p_spec -> 'match')
     order by e.received_at desc limit 1;
    if found then
      return edgeflow._complete_wait(p_run_id, p_slug, v_payload);
    end if;
  end if;
  -- Under the lock, the events recorded so far are exactly those before this wait: ordered by
  -- seq, not by time (a transaction's edgeflow.now() is when it began, not when it got the lock).
  insert into edgeflow.waits (run_id, slug, event_name, event_key, match, timeout_at, on_timeout,
                              created_at, after_seq)
  values (p_run_id, p_slug, p_spec ->> 'event', v_key, p_spec -> 'match',
          v_now + make_interval(secs => (p_spec ->> 'timeout')::integer),
          coalesce(p_spec ->> 'on_timeout', 'fail'), v_now,
          coalesce((select max(e.seq) from edgeflow.inbound_events e
                     where e.name = p_spec ->> 'event' and e.key = v_key), 0));
  return '{}';
end
$function$;
