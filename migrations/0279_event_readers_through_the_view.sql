-- event_readers_through_the_view: written by `deno task sql:migration` from what changed in sql/.

-- from sql/views/edgeflow.event_log.sql
-- The event log as events, one row per change: edgeflow.events with each
-- `step_too` row expanded into its task's event (id) and its step's (id + 1,
-- kind 'step', no task, attempt or error). Order by id. `row_id` is the id
-- of the row an event comes from: a read of one run's events that must stay
-- on the index filters `row_id >= after and id > after` and orders by
-- `row_id, id` (the index's order, then the row's two halves), as
-- edgeflow.run_events and the dashboard do.
create or replace view edgeflow.event_log as
 SELECT x.id,
    e.run_id,
    x.kind,
    e.step,
    x.task,
    x.attempt,
    e.from_status,
    e.to_status,
    e.at,
    x.error,
    e.run_created_at,
    e.id AS row_id
   FROM edgeflow.events e
     CROSS JOIN LATERAL ( VALUES (1,e.id,e.kind,e.task,e.attempt,e.error), (2,e.id + 1,'step'::text,NULL::uuid,NULL::integer,NULL::jsonb)) x(n, id, kind, task, attempt, error)
  WHERE x.n = 1 OR e.step_too;

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
      v_out := v_out || edgeflow._tasks_json(array[t.id]);
      v_left := v_left - 1;
    end loop;
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
    returning run_id, slug, queue_name, msg_id, attempts into t;
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
    returning run_id, slug, queue_name, msg_id, attempts into t;
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
            v_step.created_at, v_step.remaining_tasks = 0);
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
      returning ss.run_id, ss.slug, ss.remaining_tasks, r.created_at
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
      -- On the index through `row_id` (see edgeflow.event_log): the sort
      -- of a row's two events stops at the limit.
      select * from edgeflow.event_log ev
       where ev.run_id = r.id and ev.row_id >= p_after and ev.id > p_after
         and ev.run_created_at = r.created_at -- reads the run's day partition only
       order by ev.row_id, ev.id limit p_limit) e on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;

