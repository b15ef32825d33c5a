-- merged_task_step_events: written by `deno task sql:migration` from what changed in sql/.

-- A row can hold a task's event and its step's (sql/schema/80_events.sql):
-- ids 2 apart leave id + 1 for the step's.
alter table edgeflow.events add column step_too boolean;
alter table edgeflow.events alter column id set increment by 2;

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
  -- The engine's clock once per call, not per statement (see claim_tasks):
  -- seven reads in a one-task claim before migration 0266.
  v_now timestamptz := edgeflow.now();
  v_attempt integer;
  v_created timestamptz;
  v_step_moved boolean;
  -- The event log (see claim_tasks).
  v_log boolean := pg_catalog.current_setting('edgeflow.event_log', true) is distinct from 'off';
  v_notify boolean := pg_catalog.current_setting('edgeflow.notify_events', true) = 'on';
begin
  if v_left = 0 then
    return v_out;
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
    return v_out;
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
      returning attempts, run_created_at into v_attempt, v_created;
      if t.run_status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = v_now
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      if v_log then
        v_step_moved := found;
        v_created := coalesce(v_created, t.run_created_at);
        if t.status <> 'RUNNING' then
          insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status,
                                      at, run_created_at, step_too)
          values (t.run_id, 'task', t.slug, t.id, v_attempt, t.status, 'RUNNING', v_now,
                  v_created, v_step_moved);
        elsif v_step_moved then
          insert into edgeflow.events (run_id, kind, step, from_status, to_status, at,
                                      run_created_at)
          values (t.run_id, 'step', t.slug, 'QUEUED', 'RUNNING', v_now, v_created);
        end if;
        perform set_config('edgeflow.events_written', 'off', true);
        if v_notify then
          perform edgeflow._notify_event(t.run_id);
        end if;
      end if;
      v_out := v_out || edgeflow._tasks_json(array[t.id]);
      v_left := v_left - 1;
    end loop;
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow.claim_tasks.sql
-- Claim up to p_qty tasks of a pool for the given handlers (null: any).
-- Each claimed task gets a fresh lease token and a lease as long as its
-- step's timeout; the attempt is counted here.
--
-- Two paths. For one task, or with a pool limit, a queue limit or any tag
-- limit in force, _claim_tasks_limited takes the tasks one message at a time (slot counting
-- under advisory locks needs each task's run tags). Otherwise one statement
-- per handler queue, modelled on graphile-worker's getJobs: read the messages,
-- lock their tasks (skip locked), lease them, count the attempt, mark their
-- steps and runs RUNNING, and build the documents of all of them at once.
-- Messages that are not a claimable task (gone, stale, a stopped run, a
-- last attempt whose lease ran out) go one by one to _claim_leftover.
-- Figure that decided it (`deno task bench --quick --only engine`, the old and
-- this engine side by side, 2 cores at load average ~16): 3-step chains in
-- batches of 50 went from 357–383 steps/s to 872–953 with this claim and the
-- set-based completion; one task per claim costs what the message-at-a-time
-- claim did in wall time (3.6–4.3 ms against 3.3–5.9 ms per call), but more
-- backend CPU, so a claim of one task takes the other path (below).
--
-- random_page_cost 1.1 (as for data that is in shared buffers, which the hot
-- tables are): at the default 4 the planner priced ten primary-key probes
-- above a hash join over a sequential scan of tasks (the bench's 2,900 rows:
-- `auto_explain` in tests/bench/peers), and every claim and completion read the
-- whole table, more of it as the tables grew. With this and the clock read once
-- per call (migration 0240), the peer workload (1,500 chains, 8 workers, 10
-- per call, tests/bench/peers/diagnose.ts, before and after interleaved in one
-- database, 2 rounds): backend CPU per step over HTTP 1,282-1,389 µs before,
-- 973-1,024 µs after; 701-743 against 858-954 steps/s. Forcing the plan instead
-- (enable_seqscan and enable_hashjoin off) made a step over 100 x slower.
CREATE OR REPLACE FUNCTION edgeflow.claim_tasks(p_pool text, p_handlers jsonb, p_qty integer, p_worker text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
 SET random_page_cost TO '1.1'
AS $function$
declare
  hq record;
  -- The engine's clock once per call, not per row (each edgeflow.now() is a
  -- plpgsql call running a query): the same value, the transaction's start.
  v_now timestamptz;
  v_pool record;
  v_left integer := greatest(coalesce(p_qty, 0), 0);
  v_out jsonb := '[]';
  v_ids uuid[];
  v_vt bigint[];
  v_vt_secs integer[];
  v_leftover bigint[];
  v_leftover_tasks uuid[];
  v_msgs bigint[];
  v_tasks uuid[];
  v_runs uuid[];
  -- The event log (see sql/schema/80_events.sql); off only for a session that
  -- set edgeflow.event_log = off with the event triggers disabled (the
  -- benchmark's baseline, engine.events.cost).
  v_log boolean := pg_catalog.current_setting('edgeflow.event_log', true) is distinct from 'off';
  v_notify boolean := pg_catalog.current_setting('edgeflow.notify_events', true) = 'on';
begin
  if v_left = 0 then
    return v_out;
  end if;
  -- One task: the message-at-a-time claim costs less (backend CPU per claim
  -- 1.0-1.5 ms against 1.7-1.9 ms; at 10 per call 0.33 ms against 0.54 ms).
  -- Measured again with the straight-line complete_task (migration 0170),
  -- backend CPU per step, claim and completion, one session over 3-step
  -- chains: 1.52-1.53 ms this way, 1.80-1.83 ms through the statement
  -- below, 2.2-2.8 ms with that statement on `t.id = any(v_tasks)`. It checks
  -- the pool and the limits itself, so it goes first: three statements fewer
  -- per one-task claim (migration 0180).
  if v_left = 1 then
    return edgeflow._claim_tasks_limited(p_pool, p_handlers, p_qty, p_worker);
  end if;
  select paused, concurrency_limit into v_pool from edgeflow.pools where name = p_pool;
  if v_pool.paused then
    return v_out;
  end if;
  if v_pool.concurrency_limit is not null
     or exists (select 1 from edgeflow.pool_queues q
                 where q.pool = p_pool and q.concurrency_limit is not null and not q.paused)
     or exists (select 1 from edgeflow.concurrency_limits) then
    return edgeflow._claim_tasks_limited(p_pool, p_handlers, p_qty, p_worker);
  end if;
  -- A claim need not wait for the WAL flush: if a crash loses it, the worker's
  -- result under the forgotten lease is refused (fencing) and the task is
  -- claimed again. At-least-once holds; triggers and results stay durable.
  perform set_config('synchronous_commit', 'off', true);
  v_now := edgeflow.now();

  for hq in
    select h.queue_name, h.vt_seconds
      from edgeflow.handler_queues h
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where h.pool = p_pool and not q.paused
       and (p_handlers is null or jsonb_typeof(p_handlers) <> 'array'
            or p_handlers ? h.handler)
     order by q.priority desc, random()
  loop
    exit when v_left <= 0;
    -- The messages first, into arrays: a join on pgmq.read (estimated 1,000
    -- rows) was planned as a hash join over a sequential scan of tasks; unnest
    -- of an array (estimated 10) keeps it on the primary key.
    select coalesce(array_agg(m.msg_id order by m.msg_id), '{}'),
           coalesce(array_agg((m.message ->> 'task')::uuid order by m.msg_id), '{}')
      into v_msgs, v_tasks
      from edgeflow._mq_read(hq.queue_name, hq.vt_seconds, v_left) m;
    continue when cardinality(v_msgs) = 0;
    perform set_config('edgeflow.events_written', 'on', true);
    with msgs as (
      select mm.msg_id, mm.task_id from unnest(v_msgs, v_tasks) as mm(msg_id, task_id)
    ), cand as (
      select t.id, t.run_id, t.slug, t.status, t.holds_slots, mm.msg_id, r.status as run_status,
             r.heartbeat, fs.timeout, r.created_at as run_created_at
        from msgs mm
        join edgeflow.tasks t on t.id = mm.task_id and t.msg_id = mm.msg_id
        join edgeflow.runs r on r.id = t.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
       where (t.status = 'QUEUED' or t.status = 'RUNNING' and t.attempts < t.max_attempts)
         and r.status in ('PENDING', 'SCHEDULED', 'RUNNING')
         for update of t skip locked
    ), leased as (
      update edgeflow.tasks t
         set status = 'RUNNING', attempts = t.attempts + 1, lease = gen_random_uuid(),
             lease_expires_at = case when c.heartbeat
                                     then v_now + make_interval(secs => c.timeout) end,
             worker = p_worker, started_at = coalesce(t.started_at, v_now),
             holds_slots = false
        from cand c
       where t.id = c.id
      returning t.id, t.run_id, t.slug, c.msg_id, c.holds_slots, c.run_status, c.heartbeat,
                c.timeout, t.attempts, c.status as old_status, c.run_created_at
    ), freed as (
      -- A re-claimed expired lease whose limit was lifted meanwhile.
      delete from edgeflow.slots s using leased l where l.holds_slots and s.holder = l.id
    ), started_steps as (
      update edgeflow.step_states ss set status = 'RUNNING', started_at = v_now
        from (select distinct run_id, slug, run_created_at from leased) l
       where ss.run_id = l.run_id and ss.slug = l.slug and ss.status = 'QUEUED'
      returning ss.run_id, ss.slug, l.run_created_at
    ), started_runs as (
      update edgeflow.runs r set status = 'RUNNING', started_at = coalesce(r.started_at, v_now)
       where r.id in (select run_id from leased where run_status <> 'RUNNING')
         and r.status in ('PENDING', 'SCHEDULED')
    ), moved as (
      -- The tasks that changed status (a re-claimed expired lease stays
      -- RUNNING) and the steps that started, side by side per step: a step
      -- that started with one task of this claim shares that task's row
      -- (`step_too`); one that started with several gets a row after theirs.
      -- A window over both, not joins: over CTE scans (estimated at one row)
      -- the planner chose nested loops, 3,700 comparisons per claim of 50.
      select x.*, bool_or(x.is_step) over w as step_started,
             count(*) filter (where not x.is_step) over w as tasks
        from (select l.run_id, l.slug, l.id, l.attempts, l.old_status, l.run_created_at,
                     false as is_step
                from leased l where l.old_status <> 'RUNNING'
              union all
              select s.run_id, s.slug, null, null, 'QUEUED', s.run_created_at, true
                from started_steps s) x
      window w as (partition by x.run_id, x.slug order by x.is_step
                   rows between unbounded preceding and unbounded following)
    ), logged as (
      -- The events of this statement (the triggers on tasks and step_states
      -- write none while edgeflow.events_written is on), a step's after its
      -- tasks', as the triggers wrote them.
      insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status,
                                  at, run_created_at, step_too)
      select m.run_id, case when m.is_step then 'step' else 'task' end, m.slug, m.id,
             m.attempts, m.old_status, 'RUNNING', v_now, m.run_created_at,
             case when not m.is_step then m.step_started and m.tasks = 1 end
        from moved m
       where v_log and not (m.is_step and m.tasks = 1)
    )
    select array(select l.id from leased l order by l.msg_id),
           array(select l.msg_id from leased l
                  where not l.heartbeat or l.timeout <> hq.vt_seconds order by l.msg_id),
           array(select case when l.heartbeat then l.timeout else 315360000 end from leased l
                  where not l.heartbeat or l.timeout <> hq.vt_seconds order by l.msg_id),
           array(select mm.msg_id from msgs mm
                  where not exists (select 1 from leased l where l.msg_id = mm.msg_id)
                  order by mm.msg_id),
           array(select mm.task_id from msgs mm
                  where not exists (select 1 from leased l where l.msg_id = mm.msg_id)
                  order by mm.msg_id),
           case when v_notify then array(select distinct l.run_id from leased l) end
      into v_ids, v_vt, v_vt_secs, v_leftover, v_leftover_tasks, v_runs;
    perform set_config('edgeflow.events_written', 'off', true);
    if v_notify then
      perform edgeflow._notify_event(x) from unnest(v_runs) as x;
    end if;

    -- A step whose timeout differs from its queue's read timeout, or a flow
    -- without heartbeats (the lease never expires).
    for i in 1 .. coalesce(cardinality(v_vt), 0) loop
      perform edgeflow._mq_set_vt(hq.queue_name, v_vt[i], v_vt_secs[i]);
    end loop;
    for i in 1 .. coalesce(cardinality(v_leftover), 0) loop
      perform edgeflow._claim_leftover(hq.queue_name, v_leftover[i], v_leftover_tasks[i]);
    end loop;
    if cardinality(v_ids) > 0 then
      v_out := v_out || edgeflow._tasks_json(v_ids);
      v_left := v_left - cardinality(v_ids);
    end if;
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow.complete_task.sql
-- Complete one task under its lease, straight-line; complete_tasks is the
-- set-based path for batches. Refusals, fencing and DAG progress are those of
-- a one-entry complete_tasks (tests/engine/batch_test.ts runs both):
-- _lock_for_result locks the run, then the task, and refuses `not_found`,
-- `stale_lease` or `run_not_running`; the step counts down and, at zero,
-- completes with its output in one update; _step_done counts down its
-- dependents and the run, and starts the plain ready dependents itself;
-- _start_steps starts the other ready ones (maps, subflows, waits and per-key
-- limits included).
-- Figure that decided it (backend CPU per step from /proc/<pid>/stat, one
-- session looping a claim of one task and its completion over 3-step chains
-- of 600 runs, claim included): 1.5-1.8 ms with this function against
-- 3.7-3.8 ms as a one-entry complete_tasks, whose statements over unnest
-- (estimated at 10 rows) were planned as hash joins over sequential scans of
-- tasks and step_states (EXPLAIN ANALYZE: 2.4 of its 8 ms in one of them).
CREATE OR REPLACE FUNCTION edgeflow.complete_task(p_task_id uuid, p_lease uuid, p_output jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  t record;
  v_step record;
  v_ready text[];
  -- The engine's clock once per call (see claim_tasks).
  v_now timestamptz := edgeflow.now();
  -- The event log (see claim_tasks).
  v_log boolean := pg_catalog.current_setting('edgeflow.event_log', true) is distinct from 'off';
  v_own_events boolean := false;
begin
  if v_problem is not null then
    return v_problem;
  end if;
  -- A RUNNING task (all but a late result accepted without a version lock)
  -- and its step make the same move when it completes the step: this call
  -- writes their events, in one row (sql/schema/80_events.sql).
  if v_log then
    perform set_config('edgeflow.events_written', 'on', true);
    update edgeflow.tasks
       set status = 'COMPLETED', output = coalesce(p_output, 'null'::jsonb), lease = null,
           lease_expires_at = null, ended_at = v_now
     where id = p_task_id and status = 'RUNNING'
    returning run_id, slug, queue_name, msg_id, attempts, run_created_at into t;
    v_own_events := found;
    if not v_own_events then
      perform set_config('edgeflow.events_written', 'off', true);
    end if;
  end if;
  if not v_own_events then
    update edgeflow.tasks
       set status = 'COMPLETED', output = coalesce(p_output, 'null'::jsonb), lease = null,
           lease_expires_at = null, ended_at = v_now
     where id = p_task_id
    returning run_id, slug, queue_name, msg_id, attempts, run_created_at into t;
  end if;
  if t.msg_id is not null then
    perform edgeflow._mq_delete(t.queue_name, array[t.msg_id]);
  end if;
  -- Count down and, at zero, complete with the output (a map step's: its
  -- tasks' outputs in order) in one update, as complete_tasks does.
  update edgeflow.step_states ss
     set remaining_tasks = ss.remaining_tasks - 1,
         status = case when ss.remaining_tasks = 1 then 'COMPLETED' else ss.status end,
         ended_at = case when ss.remaining_tasks = 1 then v_now else ss.ended_at end,
         output = case when ss.remaining_tasks <> 1 then ss.output
                       when fs.map_from is null then coalesce(p_output, 'null'::jsonb)
                       else (select coalesce(jsonb_agg(tk.output order by tk.task_index), '[]')
                               from edgeflow.tasks tk
                              where tk.run_id = ss.run_id and tk.slug = ss.slug) end
    from edgeflow.runs r
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
   where r.id = t.run_id and ss.run_id = t.run_id and ss.slug = t.slug
  returning ss.remaining_tasks, r.flow_version_id, r.created_at into v_step;
  if v_own_events then
    insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status, at,
                                run_created_at, step_too)
    values (t.run_id, 'task', t.slug, p_task_id, t.attempts, 'RUNNING', 'COMPLETED', v_now,
            coalesce(t.run_created_at, v_step.created_at), v_step.remaining_tasks = 0);
    perform set_config('edgeflow.events_written', 'off', true);
    if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
      perform edgeflow._notify_event(t.run_id);
    end if;
  end if;
  if v_step.remaining_tasks = 0 then
    v_ready := edgeflow._step_done(t.run_id, v_step.flow_version_id, t.slug);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(t.run_id, v_ready);
    end if;
  end if;
  return jsonb_build_object('ok', true, 'task', p_task_id,
    'run_status', (select status from edgeflow.runs where id = t.run_id));
end
$function$;

-- from sql/functions/edgeflow.complete_tasks.sql
-- Complete many tasks in one call, set-based: one worker's batch of results
-- in one transaction (one result alone: complete_task, see its figure).
--
-- Fencing and refusals are those of a single completion, per entry: a task
-- that does not exist is `not_found`; one locked by another transition, not
-- RUNNING under this lease (or, without a version lock, not live), or named a
-- second time in the batch is `stale_lease`; one of a run that is not running
-- is `run_not_running` and ends CANCELLED. Outcomes come back in the order of
-- `p_results`; an exception aborts the whole batch.
--
-- Lock order: the runs of the batch by id, then their tasks (skip locked), as
-- every result path does, so two batches over the same runs cannot deadlock.
--
-- Then, for the accepted entries, one statement each: delete their messages
-- (one edgeflow._mq_delete per queue), complete the tasks, update their steps once
-- (count down; at zero, completed with their output); for the steps that
-- finished: count down their dependents (the plain ones that became ready are
-- QUEUED by that same update) and their runs (a run with no step left
-- completes in that same update), and start the plain dependents with one
-- edgeflow._mq_send per queue (pgmq's calls as static statements since
-- migration 0266, see _mq_compile). Map and subflow steps (fan-out, empty maps,
-- child runs) start through _start_steps as before.
--
-- Figure that decided it: batches of 50 through the per-entry loop over
-- complete_task spent ~1.8 ms of SQL per task (tests/bench/profile.ts); this
-- call spends ~0.5 ms per task (25 ms per batch of 50), and chains in batches
-- of 50 ran 2.3-2.5 x faster in the same runs (see claim_tasks).
--
-- Migration 0265 folded two updates into the count-downs before them: the
-- ready plain steps were QUEUED by an update of their own after the count-down
-- of dependents, and the finished runs COMPLETED by one after the count-down
-- of runs; two statements (and two statement-trigger firings) fewer per
-- call. Figure that decided it (pg_stat_statements, track = all, chains in
-- batches of 50, one session, 1,500 runs, variants alternated 4 times each):
-- this call's time per step over claim_tasks' in the same run (the host's
-- speed moved 1.5 x between runs), 1.43-1.49 before, 1.36-1.39 after; the two
-- statements it drops had cost 33 and 52 µs of the step's ~710 µs.
--
-- random_page_cost 1.1 and the clock read once per call: see claim_tasks (its
-- lookups of the batch's tasks and runs were hash joins over sequential scans).
CREATE OR REPLACE FUNCTION edgeflow.complete_tasks(p_results jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
 SET random_page_cost TO '1.1'
AS $function$
declare
  -- The engine's clock once per call, not per row (see claim_tasks).
  v_now timestamptz := edgeflow.now();
  v_tasks uuid[];
  v_leases uuid[];
  v_outputs jsonb[];
  v_verdicts jsonb[];
  v_runs uuid[];
  v_ok uuid[];
  v_ok_out jsonb[];
  v_late uuid[];
  v_done_runs uuid[];
  v_done_slugs text[];
  v_ready_runs uuid[];
  v_ready_slugs text[];
  v_fast_runs uuid[];
  v_fast_slugs text[];
  v_ids uuid[];
  v_msgs bigint[];
  v_task uuid;
  g record;
  v_late_task record;
  v_all_running boolean;
  v_own_events boolean;
  -- The event log (see claim_tasks).
  v_log boolean := pg_catalog.current_setting('edgeflow.event_log', true) is distinct from 'off';
  v_notify boolean := pg_catalog.current_setting('edgeflow.notify_events', true) = 'on';
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of {task, lease, output}'
      using errcode = '22023';
  end if;
  if jsonb_array_length(p_results) = 0 then
    return '[]';
  end if;
  -- One result alone goes the straight-line way (complete_task: the same
  -- outcome, tests/engine/batch_test.ts). A batch of one is what a worker of
  -- capacity 1 sends with `next`, and what a busy one often does. Figure that
  -- decided it (pg_stat_user_functions, one session completing and claiming
  -- one task per call over 3-step chains, 300 runs, two rounds): this
  -- function spent 1.3 ms per one-entry call (1.6 ms with what it calls)
  -- against complete_task's 0.7-0.8 ms, 16 statements over arrays of one.
  if jsonb_array_length(p_results) = 1 then
    return pg_catalog.jsonb_build_array(edgeflow.complete_task(
      (p_results -> 0 ->> 'task')::uuid, (p_results -> 0 ->> 'lease')::uuid,
      coalesce(p_results -> 0 -> 'output', 'null')));
  end if;

  -- The entries into arrays first: joins on jsonb_array_elements (estimated
  -- 100 rows) were planned as hash joins over a sequential scan of tasks;
  -- unnest of an array (estimated 10) keeps them on the primary key.
  select array_agg((x.value ->> 'task')::uuid order by x.ord),
         array_agg((x.value ->> 'lease')::uuid order by x.ord),
         array_agg(coalesce(x.value -> 'output', 'null') order by x.ord)
    into v_tasks, v_leases, v_outputs
    from jsonb_array_elements(p_results) with ordinality as x(value, ord);

  perform 1 from edgeflow.runs r
   where r.id in (select t.run_id from edgeflow.tasks t where t.id = any(v_tasks))
   order by r.id
     for update of r;

  -- The verdict of each entry, in order: 'ok', or the refusal.
  with e as (
    select x.ord, x.task, x.lease, x.output,
           row_number() over (partition by x.task order by x.ord) = 1 as first
      from unnest(v_tasks, v_leases, v_outputs) with ordinality as x(task, lease, output, ord)
  ), lk as (
    select t.id, t.status, t.lease from edgeflow.tasks t
     where t.id in (select task from e where first)
       for update skip locked
  ), v as (
    select e.ord, e.task, e.output, r.id as run_id, lk.status as locked_status,
           case when r.id is null then jsonb_build_object('error', 'not_found')
                when not e.first then jsonb_build_object('error', 'stale_lease', 'again', true)
                when lk.id is null
                     or not coalesce(lk.status = 'RUNNING' and lk.lease = e.lease
                                     or not r.version_lock and lk.status in ('RUNNING', 'QUEUED'),
                                     false)
                  then jsonb_build_object('error', 'stale_lease', 'status', lk.status)
                when r.status not in ('RUNNING', 'PENDING')
                  then jsonb_build_object('error', 'run_not_running', 'status', r.status)
           end as refusal
      from e
      left join edgeflow.tasks t on t.id = e.task
      left join edgeflow.runs r on r.id = t.run_id
      left join lk on lk.id = e.task and e.first
  )
  select array_agg(coalesce(v.refusal, '{}') order by v.ord),
         array_agg(v.run_id order by v.ord),
         coalesce(array_agg(v.task order by v.ord) filter (where v.refusal is null), '{}'),
         coalesce(array_agg(v.output order by v.ord) filter (where v.refusal is null), '{}'),
         coalesce(array_agg(v.task order by v.run_id, v.ord)
                    filter (where v.refusal ->> 'error' = 'run_not_running'), '{}'),
         coalesce(bool_and(v.locked_status = 'RUNNING') filter (where v.refusal is null), false)
    into v_verdicts, v_runs, v_ok, v_ok_out, v_late, v_all_running
    from v;

  -- A cancelled or failed run refuses late results; their tasks end here (rare).
  foreach v_task in array v_late loop
    select id, run_id, queue_name, msg_id into v_late_task from edgeflow.tasks where id = v_task;
    perform edgeflow._mq_delete(v_late_task.queue_name, array[v_late_task.msg_id]);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = v_now where id = v_task;
    perform edgeflow._settle_cancelling(v_late_task.run_id);
  end loop;

  if cardinality(v_ok) > 0 then
    perform edgeflow._mq_delete(m.queue_name, m.msgs)
       from (select queue_name, array_agg(msg_id) as msgs from edgeflow.tasks
              where id = any(v_ok) and msg_id is not null group by queue_name) m;
    -- Every task RUNNING (a late result to a re-queued task, accepted without
    -- a version lock, is the exception): their steps are RUNNING too, so a
    -- step they complete makes the same move as its task, and this call
    -- writes their events itself, a step completed by one task in that task's
    -- row (sql/schema/80_events.sql). Otherwise the triggers write them.
    v_own_events := v_all_running and v_log;
    if v_own_events then
      perform set_config('edgeflow.events_written', 'on', true);
    end if;
    update edgeflow.tasks t
       set status = 'COMPLETED', output = o.output, lease = null, lease_expires_at = null,
           ended_at = v_now
      from unnest(v_ok, v_ok_out) as o(id, output)
     where t.id = o.id;
    -- Their steps count down and, at zero, complete with their output (a map
    -- step's: its tasks' outputs in order), in one update.
    with done as (
      select id, run_id, slug, attempts, run_created_at from edgeflow.tasks where id = any(v_ok)
    ), n as (
      select run_id, slug, count(*)::integer as c from done group by run_id, slug
    ), counted as (
      update edgeflow.step_states ss
         set remaining_tasks = ss.remaining_tasks - n.c,
             status = case when ss.remaining_tasks = n.c then 'COMPLETED' else ss.status end,
             ended_at = case when ss.remaining_tasks = n.c then v_now else ss.ended_at end,
             output = case when ss.remaining_tasks <> n.c then ss.output
                           when fs.map_from is null
                           then (select tk.output from edgeflow.tasks tk
                                  where tk.run_id = ss.run_id and tk.slug = ss.slug
                                  order by tk.task_index limit 1)
                           else (select coalesce(jsonb_agg(tk.output order by tk.task_index), '[]')
                                   from edgeflow.tasks tk
                                  where tk.run_id = ss.run_id and tk.slug = ss.slug) end
        from n
        join edgeflow.runs r on r.id = n.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = n.slug
       where ss.run_id = n.run_id and ss.slug = n.slug
      returning ss.run_id, ss.slug, ss.remaining_tasks, n.c, r.created_at
    ), ended as (
      -- The completed tasks and the steps they completed, side by side per
      -- step (a window, not a join: see claim_tasks).
      select x.*, bool_or(x.is_step) over w as step_done,
             count(*) filter (where not x.is_step) over w as tasks
        from (select d.run_id, d.slug, d.id, d.attempts, d.run_created_at, false as is_step
                from done d
              union all
              select c.run_id, c.slug, null, null, c.created_at, true
                from counted c where c.remaining_tasks = 0) x
      window w as (partition by x.run_id, x.slug order by x.is_step
                   rows between unbounded preceding and unbounded following)
    ), logged as (
      -- A step completed by one task in that task's row; by several, in a row
      -- after theirs.
      insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status,
                                  at, run_created_at, step_too)
      select e.run_id, case when e.is_step then 'step' else 'task' end, e.slug, e.id, e.attempts,
             'RUNNING', 'COMPLETED', v_now,
             coalesce(e.run_created_at,
                      (select r.created_at from edgeflow.runs r where r.id = e.run_id)),
             case when not e.is_step then e.step_done and e.tasks = 1 end
        from ended e
       where v_own_events and not (e.is_step and e.tasks = 1)
    )
    select array_agg(c.run_id order by c.run_id, c.slug) filter (where c.remaining_tasks = 0),
           array_agg(c.slug order by c.run_id, c.slug) filter (where c.remaining_tasks = 0)
      into v_done_runs, v_done_slugs
      from counted c;
    if v_own_events then
      perform set_config('edgeflow.events_written', 'off', true);
      if v_notify then
        perform edgeflow._notify_event(x.run_id)
           from (select distinct t.run_id from edgeflow.tasks t where t.id = any(v_ok)) x;
      end if;
    end if;
  end if;

  if v_done_runs is not null then
    -- Their dependents count down; those at zero are ready, in declaration
    -- order. A run whose ready steps are all plain (no map, no subflow, no
    -- wait or sleep, no per-key limit) and that waits for no slot has them
    -- QUEUED by this same update; any other run's go through _start_steps,
    -- where those are handled.
    with deps as (
      select d.run_id, dep.slug, count(*)::integer as c
        from unnest(v_done_runs, v_done_slugs) as d(run_id, slug)
        join edgeflow.runs r on r.id = d.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = d.slug
       cross join lateral unnest(fs.dependents) as dep(slug)
       group by d.run_id, dep.slug
    ), ready as (
      select deps.run_id, deps.slug, deps.c, ss.remaining_deps = deps.c as ready,
             bool_and(fs.map_from is null and fs.deployment is null and fs.wait is null
                      and fs.concurrency is null and r.awaiting_slot is null
                      and r.status in ('PENDING', 'SCHEDULED', 'RUNNING'))
               filter (where ss.remaining_deps = deps.c)
               over (partition by deps.run_id) as plain
        from deps
        join edgeflow.step_states ss on ss.run_id = deps.run_id and ss.slug = deps.slug
        join edgeflow.runs r on r.id = deps.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = deps.slug
    ), counted as (
      update edgeflow.step_states ss
         set remaining_deps = ss.remaining_deps - rd.c,
             status = case when rd.ready and rd.plain then 'QUEUED' else ss.status end,
             remaining_tasks = case when rd.ready and rd.plain then 1 else ss.remaining_tasks end,
             total_tasks = case when rd.ready and rd.plain then 1 else ss.total_tasks end,
             queued_at = case when rd.ready and rd.plain then v_now else ss.queued_at end
        from ready rd where ss.run_id = rd.run_id and ss.slug = rd.slug
      returning ss.run_id, ss.slug, ss.remaining_deps, ss.step_index, rd.ready and rd.plain as fast
    )
    select array_agg(c.run_id order by c.run_id, c.step_index) filter (where c.remaining_deps = 0),
           array_agg(c.slug order by c.run_id, c.step_index) filter (where c.remaining_deps = 0),
           array_agg(c.run_id order by c.run_id, c.step_index) filter (where c.fast),
           array_agg(c.slug order by c.run_id, c.step_index) filter (where c.fast)
      into v_ready_runs, v_ready_slugs, v_fast_runs, v_fast_slugs
      from counted c;

    -- Runs count down their steps; those at zero complete with their leaf
    -- steps' outputs, in the same update.
    with n as (
      select run_id, count(*)::integer as c from unnest(v_done_runs) as d(run_id) group by run_id
    )
    update edgeflow.runs r
       set remaining_steps = r.remaining_steps - n.c,
           status = case when r.remaining_steps = n.c then 'COMPLETED' else r.status end,
           ended_at = case when r.remaining_steps = n.c then v_now else r.ended_at end,
           output = case when r.remaining_steps <> n.c then r.output
                         else (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                                 from edgeflow.step_states ss
                                 join edgeflow.flow_steps fs
                                   on fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
                                where ss.run_id = r.id and cardinality(fs.dependents) = 0) end
      from n where r.id = n.run_id;
  end if;

  if v_ready_runs is not null then
    for g in
      select q.queue_name, edgeflow.delay_seconds(q.at) as delay,
             array_agg(q.run_id order by q.ord) as runs, array_agg(q.slug order by q.ord) as slugs,
             array_agg(q.max_attempts order by q.ord) as max_attempts,
             array_agg(q.at order by q.ord) as ats,
             array_agg(q.created_at order by q.ord) as created
        from (select d.run_id, d.slug, d.ord, fs.max_attempts, r.created_at,
                     edgeflow.ensure_handler_queue(r.pool, r.queue, fs.handler, fs.timeout)
                       as queue_name,
                     greatest(v_now + make_interval(secs => fs.start_delay),
                              coalesce(r.scheduled_time, '-infinity')) as at
                from unnest(v_fast_runs, v_fast_slugs) with ordinality as d(run_id, slug, ord)
                join edgeflow.runs r on r.id = d.run_id
                join edgeflow.flow_steps fs
                  on fs.flow_version_id = r.flow_version_id and fs.slug = d.slug) q
       group by 1, 2
    loop
      v_ids := array(select gen_random_uuid() from generate_series(1, cardinality(g.runs)));
      v_msgs := array(
        select edgeflow._mq_send(
          g.queue_name,
          array(select jsonb_build_object('task', v_ids[i], 'run', g.runs[i])
                  from generate_series(1, cardinality(g.runs)) as i order by i),
          clock_timestamp() + make_interval(secs => g.delay)));
      insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                  queue_name, msg_id, available_at, run_created_at)
      select v_ids[i], g.runs[i], g.slugs[i], 0, null, 'QUEUED', g.max_attempts[i],
             g.queue_name, v_msgs[i], g.ats[i], g.created[i]
        from generate_series(1, cardinality(g.runs)) as i;
    end loop;
    for g in
      select d.run_id, array_agg(d.slug order by d.ord) as slugs
        from unnest(v_ready_runs, v_ready_slugs) with ordinality as d(run_id, slug, ord)
       where not (d.run_id = any(coalesce(v_fast_runs, '{}')))
       group by d.run_id order by d.run_id
    loop
      perform edgeflow._start_steps(g.run_id, g.slugs);
    end loop;
  end if;

  -- A task named twice: the second entry sees what the first left.
  return (select jsonb_agg(
            case when v.verdict = '{}'
                 then jsonb_build_object('ok', true, 'task', v.task, 'run_status',
                                         (select status from edgeflow.runs where id = v.run_id))
                 when v.verdict ? 'again'
                 then jsonb_build_object('error', 'stale_lease', 'status',
                        (select status from edgeflow.tasks where id = v.task))
                 else v.verdict end
            order by v.ord)
            from unnest(v_tasks, v_verdicts, v_runs) with ordinality as v(task, verdict, run_id, ord));
end
$function$;

-- from sql/functions/edgeflow.run_events.sql
-- A run's events after `p_after` (at most `p_limit`), its status, and
-- `last_id`: where the next read should resume. Read in one snapshot. Event
-- ids are those of edgeflow.event_log (a row holding a task's and its step's
-- event is two, id and id + 1).
--
-- Ids are handed out at insert, not at commit: a claim (which takes no run
-- lock) and another transition of the same run can commit in the opposite
-- order of their ids, so an event may become visible just after a later one.
-- `last_id` therefore stops short of events younger than 5 s, which the next
-- read returns again (readers de-duplicate by id), unless the run is final
-- (its last transition held the run lock, so nothing of it is in flight) or
-- the page is full (a backlog is read through). Null when there is no run.
-- Young by the engine's clock: an event's `at` is its transaction's
-- edgeflow.now() (the start of a transaction that may still be open), so a
-- test that moved the clock still sees the margin end 5 s later.
CREATE OR REPLACE FUNCTION edgeflow.run_events(p_run_id uuid, p_after bigint, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'events', coalesce(jsonb_agg(jsonb_build_object(
                'id', e.id, 'run_id', e.run_id, 'kind', e.kind, 'step', e.step, 'task', e.task,
                'attempt', e.attempt, 'from', e.from_status, 'to', e.to_status,
                'at', edgeflow.iso(e.at), 'error', e.error) order by e.id)
              filter (where e.id is not null), '[]'),
    'last_id', case
      when r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') or count(e.id) >= p_limit
        then coalesce(max(e.id), p_after)
      else coalesce(min(e.id) filter (where e.at > (select edgeflow.now()) - interval '5 seconds') - 1,
                    max(e.id), p_after)
      end)
    from edgeflow.runs r
    left join lateral (
      -- A row with `step_too` is two events, its task's (id) and its step's
      -- (id + 1), as in edgeflow.event_log; `id >= p_after` keeps the read on
      -- the index, and the order by the row's id first lets the sort stop at
      -- the limit.
      select x.id, ev.run_id, x.kind, ev.step, x.task, x.attempt, ev.from_status, ev.to_status,
             ev.at, x.error
        from edgeflow.events ev
       cross join lateral (values (1, ev.id, ev.kind, ev.task, ev.attempt, ev.error),
                                  (2, ev.id + 1, 'step', null::uuid, null::integer, null::jsonb))
             as x(n, id, kind, task, attempt, error)
       where ev.run_id = r.id and ev.id >= p_after
         and ev.run_created_at = r.created_at -- reads the run's day partition only
         and (x.n = 1 or ev.step_too) and x.id > p_after
       order by ev.id, x.n limit p_limit) e on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;

-- from sql/views/edgeflow.event_log.sql
-- The event log as events, one row per change: edgeflow.events with each
-- `step_too` row expanded into its task's event (id) and its step's (id + 1,
-- kind 'step', no task, attempt or error). Order by id. A reader of one run's
-- events after an id that must stay on the index reads edgeflow.events with
-- `id >= after` and expands there, as edgeflow.run_events does.
create or replace view edgeflow.event_log as
select x.id, e.run_id, x.kind, e.step, x.task, x.attempt, e.from_status, e.to_status, e.at,
       x.error, e.run_created_at
  from edgeflow.events e
 cross join lateral (values (1, e.id, e.kind, e.task, e.attempt, e.error),
                            (2, e.id + 1, 'step', null::uuid, null::integer, null::jsonb))
       as x(n, id, kind, task, attempt, error)
 where x.n = 1 or e.step_too;

-- from sql/triggers/step_states.sql
-- The triggers on edgeflow.step_states. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: step_states_release_key_slots → edgeflow._step_release_key_slots() when (old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))
--   2. after update, for each statement: events_step_update → edgeflow._step_event()

-- One insert per statement from the transition tables, the partition key
-- from the row (see _task_event).
CREATE OR REPLACE FUNCTION edgeflow._step_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
 SET enable_seqscan TO 'off'
 SET jit TO 'off'
AS $function$
begin
  -- The statement's events were written by its caller, which knew which
  -- task and step made the same move (migration 0277, see
  -- sql/schema/80_events.sql): set around that statement only.
  if pg_catalog.current_setting('edgeflow.events_written', true) = 'on' then
    return null;
  end if;
  insert into edgeflow.events (run_id, kind, step, from_status, to_status, error, at,
                              run_created_at)
  select n.run_id, 'step', n.slug, o.status, n.status,
         case when n.status = 'FAILED' then n.error end, (select edgeflow.now()),
         -- The partition key of events (see _task_event).
         coalesce(n.run_created_at,
                  (select r.created_at from edgeflow.runs r where r.id = n.run_id))
    from new_rows n join old_rows o on o.run_id = n.run_id and o.slug = n.slug
   where o.status is distinct from n.status;
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(x.run_id)
       from (select distinct n.run_id
               from new_rows n join old_rows o on o.run_id = n.run_id and o.slug = n.slug
              where o.status is distinct from n.status) x;
  end if;
  return null;
end
$function$;

-- A step with per-key concurrency ended (issue 16): its key slots go back
-- and the next step in line for them starts, in this transaction.
CREATE OR REPLACE FUNCTION edgeflow._step_release_key_slots()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  -- The steps this admits write their events through the triggers, even in
  -- a statement whose caller writes its own (edgeflow.events_written).
  v_written text := pg_catalog.current_setting('edgeflow.events_written', true);
begin
  if v_written = 'on' then
    perform pg_catalog.set_config('edgeflow.events_written', 'off', true);
  end if;
  delete from edgeflow.slots where holder = md5(new.run_id::text || '/' || new.slug)::uuid;
  perform edgeflow.admit_queued_steps(array(
    select k.limit_key from edgeflow._step_key_slots(new.run_id, new.slug) k));
  if v_written = 'on' then
    perform pg_catalog.set_config('edgeflow.events_written', 'on', true);
  end if;
  return null;
end
$function$;

-- Only steps holding key slots enter PL/pgSQL: every other step end passes by
-- on the WHEN clause.
CREATE OR REPLACE TRIGGER step_states_release_key_slots AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))) EXECUTE FUNCTION edgeflow._step_release_key_slots();

CREATE OR REPLACE TRIGGER events_step_update AFTER UPDATE ON edgeflow.step_states REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._step_event();

-- from sql/triggers/tasks.sql
-- The triggers on edgeflow.tasks. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: tasks_release_slots → edgeflow._task_release_slots() when (old.holds_slots AND (new.status IS DISTINCT FROM 'RUNNING'::text))
--   2. after update, for each statement: events_task_update → edgeflow._task_event()

-- A task going RUNNING → QUEUED is a failed attempt waiting for its retry
-- (or a lost lease): its error belongs to the event, like a final FAILED.
-- One insert per statement from the transition tables, not one PL/pgSQL call
-- and insert per row: a claim or completion of 50 tasks writes its 50 events
-- in one statement. Figure that decided it (engine.events.cost, chains in
-- batches of 50, triggers on vs disabled in the same runs): the event log
-- cost 38–44 % of steps/s as row triggers, 16–26 % as statement triggers.
-- No `order by` (migration 0221): ids within one statement follow the
-- statement's own row order; readers order by id, and one statement's events
-- of a run share one time. Figure that decided it (tests/bench/events_cpu.ts
-- --callgrind, 200 runs, 3 interleaved rounds): 2.10 M instructions per step
-- sorted, 2.04 M without (every round lower), 1.87 M with the triggers off:
-- 12.5 % → 9.5 %. `jit off`: under `enable_seqscan off` edgeflow.now()'s
-- scan of the clock costs 1e10, and Postgres JIT-compiled it in every
-- statement (26–220 ms per 50-row update, measured before this was set).
-- The partition key comes from the task row (run_created_at, written with
-- it since migration 0257; a row written before looks its run up), and the
-- insert is a plain statement: the runs to notify are read again from the
-- transition tables only when NOTIFY is on. Figure that decided it
-- (tests/bench/events_cpu.ts, backend CPU per step, batches of 50, 1,000
-- runs, 3 interleaved rounds, variants in one database): triggers off
-- 267 µs; as before 327 µs (+22.5 %); without the run lookup 300 (+12.5 %);
-- without the lookup and the CTE 287 (+7.5 %); the CTE gone but the lookup
-- kept 303 (+13.7 %).
CREATE OR REPLACE FUNCTION edgeflow._task_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
 SET enable_seqscan TO 'off'
 SET jit TO 'off'
AS $function$
begin
  -- The statement's events were written by its caller, which knew which
  -- task and step made the same move (migration 0277, see
  -- sql/schema/80_events.sql): set around that statement only.
  if pg_catalog.current_setting('edgeflow.events_written', true) = 'on' then
    return null;
  end if;
  insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status, error,
                              at, run_created_at)
  select n.run_id, 'task', n.slug, n.id, n.attempts, o.status, n.status,
         case when n.status = 'FAILED' or (o.status = 'RUNNING' and n.status = 'QUEUED')
              then n.error end,
         -- The engine's clock, read once per statement (an InitPlan; not at
         -- all when no status changed).
         (select edgeflow.now()),
         -- The partition key of events (sql/schema/80_events.sql). A row
         -- without it: one probe of runs_pkey (coalesce runs the subquery
         -- only then). A join to runs was planned (once per backend, from
         -- the transition table's size then) as a hash join over a
         -- sequential scan of every run: 5,000 rows read per statement in
         -- engine.chain.batch50. Without `enable_seqscan off` the probe
         -- itself was a scan of a small runs table (130,000 instructions
         -- per event with 150 runs, under callgrind).
         coalesce(n.run_created_at,
                  (select r.created_at from edgeflow.runs r where r.id = n.run_id))
    from new_rows n join old_rows o on o.id = n.id
   where o.status is distinct from n.status;
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(x.run_id)
       from (select distinct n.run_id from new_rows n join old_rows o on o.id = n.id
              where o.status is distinct from n.status) x;
  end if;
  return null;
end
$function$;

-- A task leaving RUNNING (completed, failed, retried, expired, cancelled)
-- gives its slots back.
CREATE OR REPLACE FUNCTION edgeflow._task_release_slots()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  delete from edgeflow.slots where holder = new.id;
  new.holds_slots := false;
  return new;
end
$function$;

CREATE OR REPLACE TRIGGER tasks_release_slots BEFORE UPDATE OF status ON edgeflow.tasks FOR EACH ROW WHEN ((old.holds_slots AND (new.status IS DISTINCT FROM 'RUNNING'::text))) EXECUTE FUNCTION edgeflow._task_release_slots();

CREATE OR REPLACE TRIGGER events_task_update AFTER UPDATE ON edgeflow.tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._task_event();
