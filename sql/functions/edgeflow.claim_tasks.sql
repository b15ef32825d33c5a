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
 RETURNS json
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
  -- The tasks claimed, in order; their documents are built once, at the end
  -- (_tasks_json).
  v_claimed uuid[] := '{}';
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
    return '[]'::json;
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
    return '[]'::json;
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
    if v_log then
      perform set_config('edgeflow.events_written', 'on', true);
    end if;
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
    if v_log then
      perform set_config('edgeflow.events_written', 'off', true);
      if v_notify then
        perform edgeflow._notify_event(x) from unnest(v_runs) as x;
      end if;
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
      v_claimed := v_claimed || v_ids;
      v_left := v_left - cardinality(v_ids);
    end if;
  end loop;
  if cardinality(v_claimed) = 0 then
    return '[]'::json;
  end if;
  return edgeflow._tasks_json(v_claimed);
end
$function$;
