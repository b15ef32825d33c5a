-- handler_waits_suspend_task: written by `deno task sql:migration` from what changed in sql/.

-- The check is added NOT VALID, then validated: the scan of tasks takes no lock that blocks writers.
alter table edgeflow.tasks drop constraint tasks_status_check;
alter table edgeflow.tasks add constraint tasks_status_check
  CHECK ((status = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text, 'COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'WAITING'::text]))) not valid;
alter table edgeflow.tasks validate constraint tasks_status_check;
alter table edgeflow.tasks add column waited jsonb;
alter table edgeflow.waits add column task_id uuid;

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

-- from sql/functions/edgeflow._resume_task.sql
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

-- from sql/functions/edgeflow._tasks_json.sql
-- The task documents (ClaimedTask in shared/engine/tasks.ts) of `p_ids`, as
-- one JSON array in the order given: the one place that document is built
-- (_task_json is this for one id). Set-based, so a claim of 50 tasks reads
-- runs, steps and dependency outputs in one pass instead of 50 (claim batch50:
-- see claim_tasks for the figures).
CREATE OR REPLACE FUNCTION edgeflow._tasks_json(p_ids uuid[])
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (select coalesce(jsonb_agg(jsonb_build_object(
    'task', t.id, 'lease', t.lease, 'run_id', t.run_id, 'flow', r.flow_name,
    'step', t.slug, 'handler', fs.handler, 'attempt', t.attempts,
    'max_attempts', t.max_attempts, 'task_index', t.task_index,
    'lease_expires_at', edgeflow.iso(t.lease_expires_at),
    'input', jsonb_build_object(
      'run', r.parameters,
      'deps', coalesce((select jsonb_object_agg(d.slug, d.output) from edgeflow.step_states d
                         where d.run_id = t.run_id and d.slug = any(fs.depends_on)), '{}'),
      'args', fs.args)
      || case when fs.map_from is null then '{}'::jsonb
              else jsonb_build_object('item', t.item) end)
    -- The waits a suspended handler has passed (edgeflow.suspend_task), in order.
    || case when t.waited is null then '{}'::jsonb
            else jsonb_build_object('waited', t.waited) end order by i.ord), '[]')
    from unnest(p_ids) with ordinality as i(id, ord)
    join edgeflow.tasks t on t.id = i.id
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug);
end
$function$;

-- from sql/functions/edgeflow.fire_wait_timeouts.sql
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

-- from sql/functions/edgeflow.resume_waits.sql
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

-- from sql/functions/edgeflow.suspend_task.sql
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
