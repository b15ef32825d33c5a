-- Claim up to p_qty tasks of a pool for the given handlers (null: any).
-- Each claimed task gets a fresh lease token and a lease as long as its
-- step's timeout; the attempt is counted here. claim_tasks takes this path for
-- one task, and for any number while a limit is in force.
-- Migration 0180 took out two statements a message (the run and the step's
-- timeout are read with the task) and a plpgsql call (_task_json) a task.
CREATE OR REPLACE FUNCTION edgeflow._claim_tasks_limited(p_pool text, p_handlers jsonb, p_qty integer, p_worker text DEFAULT NULL::text)
 RETURNS json
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
  -- The tasks claimed, in order; their documents are built once, at the end
  -- (_tasks_json).
  v_claimed uuid[] := '{}';
  v_tags_limited boolean;
  v_keys text[];
  v_limits integer[];
  v_free boolean;
  v_busy boolean;
  i integer;
  -- The engine's clock once per call, not per statement (see claim_tasks):
  -- seven reads in a one-task claim before migration 0266.
  v_now timestamptz := edgeflow.now();
  v_attempt integer;
  v_step_moved boolean;
  -- The event log (see claim_tasks).
  v_log boolean := pg_catalog.current_setting('edgeflow.event_log', true) is distinct from 'off';
  v_notify boolean := pg_catalog.current_setting('edgeflow.notify_events', true) = 'on';
begin
  if v_left = 0 then
    return '[]'::json;
  end if;
  -- A claim need not wait for the WAL flush: if a crash loses it, the worker's
  -- result under the forgotten lease is refused (fencing) and the task is
  -- claimed again. At-least-once holds; triggers and results stay durable.
  perform set_config('synchronous_commit', 'off', true);
  -- The pool and which limits are in force, in one statement (three before
  -- migration 0268: the pool, a loop over its limited queues, the tag limits).
  select p.paused, p.concurrency_limit,
         exists (select 1 from edgeflow.pool_queues q
                  where q.pool = p_pool and q.concurrency_limit is not null and not q.paused)
           as queues_limited,
         exists (select 1 from edgeflow.concurrency_limits) as tags_limited
    into v_pool
    from (select) as one
    left join edgeflow.pools p on p.name = p_pool;
  if v_pool.paused then
    return '[]'::json;
  end if;
  if v_pool.concurrency_limit is not null then
    perform edgeflow._slot_lock('pool:' || p_pool);
  end if;
  if v_pool.queues_limited then
    for v_queue in
      select q.name from edgeflow.pool_queues q
       where q.pool = p_pool and q.concurrency_limit is not null and not q.paused
       order by q.name
    loop
      perform edgeflow._slot_lock('queue:' || p_pool || '/' || v_queue);
    end loop;
  end if;
  v_tags_limited := v_pool.tags_limited;

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
    for m in select * from edgeflow._mq_read(hq.queue_name, hq.vt_seconds, v_left) loop
      -- The task with its run and step in one statement (a task's run and
      -- flow step always exist: foreign keys), not three.
      select tk.id, tk.run_id, tk.slug, tk.status, tk.attempts, tk.max_attempts, tk.queue_name,
             tk.msg_id, tk.holds_slots, r.status as run_status, r.flow_version_id, r.heartbeat,
             r.tags, fs.timeout, r.created_at as run_created_at
        into t from edgeflow.tasks tk
        join edgeflow.runs r on r.id = tk.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = tk.slug
       where tk.id = (m.message ->> 'task')::uuid
         for update of tk skip locked;
      if not found then
        -- Locked by a transition in flight, or a message with no task.
        if not exists (select 1 from edgeflow.tasks where id = (m.message ->> 'task')::uuid) then
          perform edgeflow._mq_delete(hq.queue_name, array[m.msg_id]);
        end if;
        continue;
      end if;
      if t.status not in ('QUEUED', 'RUNNING') or t.msg_id is distinct from m.msg_id then
        perform edgeflow._mq_delete(hq.queue_name, array[m.msg_id]);
        continue;
      end if;
      if t.run_status not in ('PENDING', 'SCHEDULED', 'RUNNING') then
        perform edgeflow._mq_delete(hq.queue_name, array[m.msg_id]);
        update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                                  ended_at = v_now where id = t.id;
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
             set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = v_now,
                 error = jsonb_build_object('message', format(
                   'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
                   'crashed', true)
           where id = t.id;
        end if;
        perform edgeflow._mq_set_vt(hq.queue_name, m.msg_id, case when v_busy then 0 else 1 end);
        continue;
      end if;
      if cardinality(v_keys) > 0 then
        insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
        select k, t.id, t.run_id, v_now from unnest(v_keys) as k;
      end if;

      v_timeout := t.timeout;
      if not t.heartbeat then
        -- Flow opted out of heartbeats: the lease never expires.
        perform edgeflow._mq_set_vt(hq.queue_name, m.msg_id, 315360000);
      elsif v_timeout <> hq.vt_seconds then
        perform edgeflow._mq_set_vt(hq.queue_name, m.msg_id, v_timeout);
      end if;
      -- The task's and its step's events are written below, in one row when
      -- both move (sql/schema/80_events.sql); the run's by its trigger.
      if v_log then
        perform set_config('edgeflow.events_written', 'on', true);
      end if;
      update edgeflow.tasks
         set status = 'RUNNING', attempts = attempts + 1, lease = gen_random_uuid(),
             lease_expires_at = case when t.heartbeat
                                     then v_now + make_interval(secs => v_timeout) end,
             worker = p_worker, started_at = coalesce(started_at, v_now),
             holds_slots = cardinality(v_keys) > 0
       where id = t.id
      returning attempts into v_attempt;
      if t.run_status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = v_now
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      if v_log then
        v_step_moved := found;
        if t.status <> 'RUNNING' then
          insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status,
                                      at, run_created_at, step_too)
          values (t.run_id, 'task', t.slug, t.id, v_attempt, t.status, 'RUNNING', v_now,
                  t.run_created_at, v_step_moved);
        elsif v_step_moved then
          insert into edgeflow.events (run_id, kind, step, from_status, to_status, at,
                                      run_created_at)
          values (t.run_id, 'step', t.slug, 'QUEUED', 'RUNNING', v_now, t.run_created_at);
        end if;
        perform set_config('edgeflow.events_written', 'off', true);
        if v_notify then
          perform edgeflow._notify_event(t.run_id);
        end if;
      end if;
      v_claimed := v_claimed || t.id;
      v_left := v_left - 1;
    end loop;
  end loop;
  if cardinality(v_claimed) = 0 then
    return '[]'::json;
  end if;
  return edgeflow._tasks_json(v_claimed);
end
$function$;
