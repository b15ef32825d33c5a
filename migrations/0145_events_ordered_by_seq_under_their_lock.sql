-- events_ordered_by_seq_under_their_lock: written by `deno task sql:migration` from what changed in sql/.

-- A wait and an event of one name and key are ordered by the event's seq,
-- read under their advisory lock, not by time: a transaction's edgeflow.now()
-- is when it began, not when it got the lock (a wait could otherwise miss an
-- event recorded while it was beginning). Open waits (none before 0100 landed
-- anywhere but test databases) take the newest seq, as if begun now.
alter table edgeflow.inbound_events add column seq bigint generated always as identity not null;
alter table edgeflow.waits add column after_seq bigint;
update edgeflow.waits w
   set after_seq = coalesce((select max(e.seq) from edgeflow.inbound_events e
                              where e.name = w.event_name and e.key = w.event_key), 0)
 where w.event_name is not null;

CREATE INDEX inbound_events_name_key_seq ON edgeflow.inbound_events USING btree (name, key, seq);

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
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
   where id = p_run_id and status = 'PENDING';

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

-- from sql/functions/edgeflow.resume_waits.sql
-- The waits an event ends: every open wait for its name and key that began
-- before the event was recorded (after_seq, see edgeflow._start_wait) and
-- times out after it, whose `match` the payload satisfies. Each
-- completes with the payload as its output and starts the steps that became
-- ready. Runs are locked in id order, then the wait's row is deleted: the
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
    select wt.run_id, wt.slug from edgeflow.waits wt
     where wt.event_name = e.name and wt.event_key = e.key
       and wt.after_seq < e.seq and e.received_at < wt.timeout_at
       and edgeflow._event_matches(e.payload, wt.match)
     order by wt.run_id, wt.slug
  loop
    perform 1 from edgeflow.runs where id = w.run_id for update;
    delete from edgeflow.waits where run_id = w.run_id and slug = w.slug;
    continue when not found;
    v_ready := edgeflow._complete_wait(w.run_id, w.slug, e.payload);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(w.run_id, v_ready);
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;
