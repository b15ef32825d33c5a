-- slots_deliveries_clock_no_default: written by `deno task sql:migration` from what changed in sql/.



-- from sql/functions/edgeflow._claim_tasks_limited.sql
-- Claim up to p_qty tasks of a pool for the given handlers (null: any).
-- Each claimed task gets a fresh lease token and a lease as long as its
-- step's timeout; the attempt is counted here. claim_tasks takes this path for
-- one task, and for any number while a limit is in force.
-- Migration 0180 took out two statements a message (the run and the step's
-- timeout are read with the task) and a plpgsql call (_task_json) a task.
CREATE OR REPLACE FUNCTION edgeflow._claim_tasks_limited(p_pool text, p_handlers jsonb, p_qty integer, p_worker text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  hq record;
  m record;
  t record;
  v_pool record;
  v_queue text;
  v_timeout integer;
  v_left integer := greatest(coalesce(p_qty, 0), 0);
  v_out jsonb := '[]';
  v_tags_limited boolean;
  v_keys text[];
  v_limits integer[];
  v_free boolean;
  v_busy boolean;
  i integer;
begin
  if v_left = 0 then
    return v_out;
  end if;
  -- A claim need not wait for the WAL flush: if a crash loses it, the worker's
  -- result under the forgotten lease is refused (fencing) and the task is
  -- claimed again. At-least-once holds; triggers and results stay durable.
  perform set_config('synchronous_commit', 'off', true);
  select paused, concurrency_limit into v_pool from edgeflow.pools where name = p_pool;
  if v_pool.paused then
    return v_out;
  end if;
  if v_pool.concurrency_limit is not null then
    perform edgeflow._slot_lock('pool:' || p_pool);
  end if;
  for v_queue in
    select q.name from edgeflow.pool_queues q
     where q.pool = p_pool and q.concurrency_limit is not null and not q.paused
     order by q.name
  loop
    perform edgeflow._slot_lock('queue:' || p_pool || '/' || v_queue);
  end loop;
  v_tags_limited := exists (select 1 from edgeflow.concurrency_limits);

  for hq in
    select h.queue_name, h.vt_seconds, q.name as queue, q.concurrency_limit as queue_limit
      from edgeflow.handler_queues h
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where h.pool = p_pool and not q.paused
       and (p_handlers is null or jsonb_typeof(p_handlers) <> 'array'
            or p_handlers ? h.handler)
     order by q.priority desc, random()
  loop
    exit when v_left <= 0;
    for m in select * from pgmq.read(hq.queue_name, hq.vt_seconds, v_left) loop
      -- The task with its run and step in one statement (a task's run and
      -- flow step always exist: foreign keys), not three.
      select tk.id, tk.run_id, tk.slug, tk.status, tk.attempts, tk.max_attempts, tk.queue_name,
             tk.msg_id, tk.holds_slots, r.status as run_status, r.flow_version_id, r.heartbeat,
             r.tags, fs.timeout
        into t from edgeflow.tasks tk
        join edgeflow.runs r on r.id = tk.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = tk.slug
       where tk.id = (m.message ->> 'task')::uuid
         for update of tk skip locked;
      if not found then
        -- Locked by a transition in flight, or a message with no task.
        if not exists (select 1 from edgeflow.tasks where id = (m.message ->> 'task')::uuid) then
          perform pgmq.delete(hq.queue_name, m.msg_id);
        end if;
        continue;
      end if;
      if t.status not in ('QUEUED', 'RUNNING') or t.msg_id is distinct from m.msg_id then
        perform pgmq.delete(hq.queue_name, m.msg_id);
        continue;
      end if;
      if t.run_status not in ('PENDING', 'SCHEDULED', 'RUNNING') then
        perform pgmq.delete(hq.queue_name, m.msg_id);
        update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                                  ended_at = edgeflow.now() where id = t.id;
        continue;
      end if;
      if t.status = 'RUNNING' and t.attempts >= t.max_attempts then
        -- Its lease ran out on the last attempt before the sweep saw it.
        perform pgmq.archive(hq.queue_name, m.msg_id);
        perform edgeflow._expire_final(t.id);
        continue;
      end if;

      -- Concurrency slots. A re-claimed expired lease first gives its old ones back.
      if t.holds_slots then
        delete from edgeflow.slots where holder = t.id;
      end if;
      v_keys := '{}';
      v_limits := '{}';
      if v_pool.concurrency_limit is not null then
        v_keys := v_keys || ('pool:' || p_pool);
        v_limits := v_limits || v_pool.concurrency_limit;
      end if;
      if hq.queue_limit is not null then
        v_keys := v_keys || ('queue:' || p_pool || '/' || hq.queue);
        v_limits := v_limits || hq.queue_limit;
      end if;
      v_busy := false;
      if v_tags_limited and cardinality(t.tags) > 0 then
        select v_keys || coalesce(array_agg('tag:' || l.tag order by l.tag), '{}'),
               v_limits || coalesce(array_agg(l."limit" order by l.tag), '{}'),
               coalesce(bool_or(not pg_catalog.pg_try_advisory_xact_lock(
                          pg_catalog.hashtext('edgeflow.slot:tag:' || l.tag))), false)
          into v_keys, v_limits, v_busy
          from edgeflow.concurrency_limits l where l.tag = any(t.tags);
      end if;
      v_free := not v_busy;
      i := 1;
      while v_free and i <= cardinality(v_keys) loop
        v_free := edgeflow._slots_held(v_keys[i]) < v_limits[i];
        i := i + 1;
      end loop;
      if not v_free then
        if t.status = 'RUNNING' then
          -- An expired lease whose slots are gone meanwhile: queued again,
          -- like the sweep would (the crashed attempt stays counted).
          update edgeflow.tasks
             set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
                 error = jsonb_build_object('message', format(
                   'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
                   'crashed', true)
           where id = t.id;
        end if;
        perform pgmq.set_vt(hq.queue_name, m.msg_id, case when v_busy then 0 else 1 end);
        continue;
      end if;
      if cardinality(v_keys) > 0 then
        insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
        select k, t.id, t.run_id, edgeflow.now() from unnest(v_keys) as k;
      end if;

      v_timeout := t.timeout;
      if not t.heartbeat then
        -- Flow opted out of heartbeats: the lease never expires.
        perform pgmq.set_vt(hq.queue_name, m.msg_id, 315360000);
      elsif v_timeout <> hq.vt_seconds then
        perform pgmq.set_vt(hq.queue_name, m.msg_id, v_timeout);
      end if;
      update edgeflow.tasks
         set status = 'RUNNING', attempts = attempts + 1, lease = gen_random_uuid(),
             lease_expires_at = case when t.heartbeat
                                     then edgeflow.now() + make_interval(secs => v_timeout) end,
             worker = p_worker, started_at = coalesce(started_at, edgeflow.now()),
             holds_slots = cardinality(v_keys) > 0
       where id = t.id;
      if t.run_status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, edgeflow.now())
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = edgeflow.now()
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      v_out := v_out || edgeflow._tasks_json(array[t.id]);
      v_left := v_left - 1;
    end loop;
  end loop;
  return v_out;
end
$function$;

-- from sql/triggers/runs.sql
-- The triggers on edgeflow.runs. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: runs_before_end → edgeflow._run_before_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))
--   2. after insert, for each row: events_run_insert → edgeflow._run_event()
--   3. after insert, for each row: runs_admit → edgeflow._run_admit() when (new.deployment_id IS NOT NULL)
--   4. after update, for each row: events_run_update → edgeflow._run_event() when ((old.status IS DISTINCT FROM new.status) AND (new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])))
--   5. after update, for each row: runs_after_child_end → edgeflow._subflow_child_end_trigger() when ((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   6. after update, for each row: runs_after_end → edgeflow._run_after_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   7. after update, for each row: runs_stop_children → edgeflow._subflow_parent_stopped() when ((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))
--   8. after update, for each statement: events_run_update_batch → edgeflow._run_events()

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
CREATE OR REPLACE FUNCTION edgeflow._run_admit()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy, concurrency into d
    from edgeflow.deployments where id = new.deployment_id;
  if jsonb_array_length(d.concurrency) > 0 and new.status in ('SCHEDULED', 'PENDING') then
    -- Per-key concurrency (issue 16): in line first, then admitted by key.
    update edgeflow.runs
       set status = 'SCHEDULED', awaiting_slot = (select k.limit_key
                                                    from edgeflow._run_key_slots(new.id) k limit 1)
     where id = new.id;
    perform edgeflow._admit_keyed(new.deployment_id, new.id);
    if d.collision_strategy = 'cancel_new'
       and exists (select 1 from edgeflow.runs where id = new.id and awaiting_slot is not null) then
      update edgeflow.runs
         set status = 'CANCELLED', ended_at = edgeflow.now(),
             error = jsonb_build_object(
               'code', 'concurrency_limit',
               'message', 'a per-key concurrency limit of the deployment is full '
                          '(collision strategy cancel_new)')
       where id = new.id;
    end if;
    return null;
  end if;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
    values (v_key, new.id, new.id, edgeflow.now());
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = edgeflow.now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$function$;

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
CREATE OR REPLACE FUNCTION edgeflow._run_after_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null
     and (('deployment:' || new.deployment_id) = any(v_freed)
          -- A per-key slot (issue 16).
          or exists (select 1 from unnest(v_freed) as k where k like 'dkey:%')) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$function$;

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
CREATE OR REPLACE FUNCTION edgeflow._run_before_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.awaiting_slot := null;
  if new.status = 'CRASHED' then
    if coalesce((select (fv.settings ->> 'lazarus')::boolean from edgeflow.flow_versions fv
                  where fv.id = new.flow_version_id), false) then
      if new.resurrections < 3 then
        new.lazarus_due := true;
      else
        new.error := coalesce(new.error, '{}') || jsonb_build_object(
          'resurrections', new.resurrections,
          'lazarus', 'gave up: the run crashed again after 3 resurrections');
      end if;
    end if;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._run_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error, at, run_created_at)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end, edgeflow.now(),
          new.created_at);
  -- The setting checked here, not by a call of _notify_event per event.
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(new.id);
  end if;
  return null;
end
$function$;

-- The status changes of runs in one insert per statement (as _task_event),
-- except the states that stop the run's work (CANCELLING, CANCELLED, FAILED,
-- CRASHED): their row trigger events_run_update records them before
-- runs_stop_children cancels the run's tasks, so a run's own event comes
-- before the cancellations it causes (a statement trigger fires after every
-- row trigger of its statement). Figure that decided it (instructions under
-- callgrind, 1,000 runs updated in one statement): 124,000 per run event as a
-- row trigger (one single-row insert through SPI each), 35,000 from the
-- transition tables; in claims and completions of 50 the run events were a
-- third of what the event log cost.
CREATE OR REPLACE FUNCTION edgeflow._run_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_runs uuid[];
begin
  with ins as (
    insert into edgeflow.events (run_id, kind, from_status, to_status, at, run_created_at)
    select n.id, 'run', o.status, n.status, (select edgeflow.now()), n.created_at
      from new_rows n join old_rows o on o.id = n.id
     where o.status is distinct from n.status
       and n.status not in ('CANCELLING', 'CANCELLED', 'FAILED', 'CRASHED')
    returning run_id
  )
  select array_agg(distinct run_id) into v_runs from ins;
  if v_runs is not null and pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(r) from unnest(v_runs) as r;
  end if;
  return null;
end
$function$;

-- THE HOOK for outbound notifications (issue 13), and the only one in the
-- engine: a run reaching a final state writes one outbox row per matching
-- notification, in the transaction that ended the run. It sends nothing: the
-- drain (shared/notifications/) does after the commit, so a slow or dead
-- receiver never holds the engine's transaction. Without any active
-- notification for the event it costs one index-less lookup of a tiny table.
CREATE OR REPLACE FUNCTION edgeflow._run_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_event text := 'run.' || lower(new.status);
  v_deployment text;
begin
  if not exists (select 1 from edgeflow.notifications n
                  where n.active and v_event = any(n.events)) then
    return null;
  end if;
  select d.name into v_deployment from edgeflow.deployments d where d.id = new.deployment_id;
  insert into edgeflow.notification_deliveries
         (notification_id, message_id, run_id, event, payload, next_attempt_at, created_at)
  select n.id, 'msg_' || md5(n.id::text || ':' || new.id::text || ':' || v_event), new.id, v_event,
         jsonb_build_object(
           'type', v_event,
           'timestamp', edgeflow.iso(coalesce(new.ended_at, edgeflow.now())),
           'data', jsonb_build_object(
             'run_id', new.id, 'flow', new.flow_name, 'version', new.version,
             'deployment', v_deployment, 'status', new.status, 'parameters', new.parameters,
             'output', new.output, 'error', new.error,
             'created_at', edgeflow.iso(new.created_at), 'started_at', edgeflow.iso(new.started_at),
             'ended_at', edgeflow.iso(new.ended_at))),
         edgeflow.now(), edgeflow.now()
    from edgeflow.notifications n
   where n.active and v_event = any(n.events)
     and (n.flows is null or new.flow_name = any(n.flows))
     and (n.deployments is null or v_deployment = any(n.deployments))
  on conflict (message_id) do nothing;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._subflow_child_end_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$function$;

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
CREATE OR REPLACE FUNCTION edgeflow._subflow_parent_stopped()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select tk.id, tk.subflow_run_id from edgeflow.tasks tk
     where tk.run_id = new.id and tk.status = 'RUNNING' and tk.queue_name = 'ef_subflows'
     order by tk.task_index
       for update
  loop
    -- The task first: the child's end trigger then sees nothing to settle.
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = edgeflow.now()
     where id = t.id;
    perform 1 from edgeflow.runs where id = t.subflow_run_id for update skip locked;
    if found then
      perform edgeflow.cancel_run(t.subflow_run_id);
    end if;
  end loop;
  if found and new.status = 'CANCELLING' then
    -- Its subflow tasks were what kept it CANCELLING; worker tasks may remain.
    perform edgeflow._settle_cancelling(new.id);
  end if;
  return null;
end
$function$;

-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
CREATE OR REPLACE TRIGGER runs_before_end BEFORE UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))) EXECUTE FUNCTION edgeflow._run_before_end();

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
CREATE OR REPLACE TRIGGER events_run_insert AFTER INSERT ON edgeflow.runs FOR EACH ROW EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_admit AFTER INSERT ON edgeflow.runs FOR EACH ROW WHEN ((new.deployment_id IS NOT NULL)) EXECUTE FUNCTION edgeflow._run_admit();

-- A run's stopping states, row by row (see _run_events).
CREATE OR REPLACE TRIGGER events_run_update AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((old.status IS DISTINCT FROM new.status) AND (new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_event();

-- Every other status change of runs, per statement (see _run_events).
CREATE OR REPLACE TRIGGER events_run_update_batch AFTER UPDATE ON edgeflow.runs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._run_events();

CREATE OR REPLACE TRIGGER runs_after_child_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._subflow_child_end_trigger();

CREATE OR REPLACE TRIGGER runs_after_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_after_end();

-- Outbound notifications: see edgeflow._run_notify above.
CREATE OR REPLACE TRIGGER runs_notify AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_notify();

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();

-- Every writer stamps these with edgeflow.now() (the tree makes tables before
-- functions, so the engine's clock cannot be the default): a writer that
-- forgets fails at once instead of using the wall clock a test cannot move.
alter table edgeflow.slots alter column acquired_at drop default;
alter table edgeflow.qstash_deliveries alter column received_at drop default;
