-- claim_documents_as_json: written by `deno task sql:migration` from what changed in sql/.

drop function edgeflow._claim_next(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer);
drop function edgeflow._claim_tasks_limited(p_pool text, p_handlers jsonb, p_qty integer, p_worker text);
drop function edgeflow._tasks_json(p_ids uuid[]);
drop function edgeflow.claim_tasks(p_pool text, p_handlers jsonb, p_qty integer, p_worker text);
drop function edgeflow.complete_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer);
drop function edgeflow.fail_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer);
drop function edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer);
drop function edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer);

-- from sql/functions/edgeflow._tasks_json.sql
-- The task documents (ClaimedTask in shared/engine/tasks.ts) of `p_ids`, as
-- one JSON array in the order given: the one place that document is built
-- (_task_json is this for one id). Set-based, so a claim of 50 tasks reads
-- runs, steps and dependency outputs in one pass instead of 50 (claim batch50:
-- see claim_tasks for the figures).
-- A generic plan, forced: with the array as a parameter the planner's custom
-- plan (unnest of the actual array: 1 row) always looks cheaper than the
-- generic one (unnest estimated at 10 rows), so the plan cache never settled
-- on the generic plan and planned this statement again on every call. Figure
-- that decided it (backend user CPU of 1,000 top-level `_task_json(id)` calls,
-- one session, modes interleaved, 2-core machine at load average 6-15): 1.5-1.9
-- ms per document with plan_cache_mode = auto, 0.23-1.0 ms forced generic.
-- The task is read in a lateral subquery kept apart by `offset 0`, so the plan
-- probes tasks_pkey once per id whatever the table's size. Joined directly,
-- the generic plan (unnest estimated at 10 rows) was a hash join over a
-- sequential scan of every task: 1,000 top-level one-id calls, one session,
-- interleaved 4 times, 932 tasks: 240-316 µs per call that way, 61-78 µs
-- this way (the old cost grows with the table; 50 ids: 1.5-3.8 against
-- 2.3-4.3 ms, load average ~6).
-- `enable_bitmapscan off`: a document's `deps` are one to a few step_states
-- rows, and the generic plan read them by a bitmap scan set up anew for every
-- document. Figure that decided it (tests/bench/task_doc_cpu.ts: instructions
-- under callgrind for one call of 50 documents of a chain's second step,
-- variants in one database, deterministic to 0.1 %): 12.71 M → 11.86 M
-- (−7 %) with '{}' parameters, 29.1 M → 28.1 M with 8 KB of payload per document. Measured and
-- not taken (same harness): the document built as text and parsed once,
-- 9.4 M with empty payloads but 56.8 M with 8 KB (the payload printed and
-- parsed again); `deps` through a join of unnest(depends_on), 13.7 M; the
-- `||` of the optional keys and the `order by`, within 1 %. Of a document's
-- ~240,000 instructions, jsonb_build_object takes ~90,000, part of it looking
-- up the type of each argument (keys included) on every call; the deps
-- subquery ~45,000, the trace context ~30,000.
-- The document's first level is to_jsonb of a row (migration 0281), whose
-- keys come from its column names: jsonb_build_object looked up the type of
-- its 24 arguments on every call, keys included, and a row's columns are
-- looked up once each. Figure that decided it (same harness): 11.86 M →
-- 11.04 M (−7 %) with '{}' parameters, 26.9 M → 26.6 M with 8 KB of payload
-- a document; building `trace` as a row too gave another 1.3 %, not taken
-- (trace_context stays the one place the trace context is built).
-- `json`, not `jsonb` (migration 0283): the documents go to the client as
-- text, and json is built as text, where jsonb built a tree, its keys sorted,
-- and printed it at the end. Embedded jsonb values (the run's parameters, the
-- deps' outputs, args, the trace context) are printed once, into the text,
-- as they were when the whole document was printed. Figure that decided it
-- (tests/bench/task_doc_cpu.ts, same harness): 11.05 M → 6.57 M (−41 %) per
-- 50 documents with '{}' payloads, 15.54 M → 11.04 M (−29 %) with 1 KB in
-- the parameters and the first step's output, 41.47 M → 42.69 M (+3 %) with
-- 8 KB. In the engine (tests/bench/events_cpu.ts --callgrind, 450 − 150 runs,
-- batches of 50, 2 rounds): 1.455 M → 1.373 M instructions per step (−5.6 %),
-- 1.350 M → 1.255 M with the event log off. Keys keep the order built here (jsonb sorted them); readers parse
-- them into objects. claim_tasks and the calls that return its documents
-- (heartbeat, worker_heartbeat, _claim_next, complete_tasks_and_claim)
-- return json too: a cast back to jsonb would parse every document again.
-- A document with `waited` is built as jsonb and cast (rare: a resumed wait).

CREATE OR REPLACE FUNCTION edgeflow._tasks_json(p_ids uuid[])
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_bitmapscan TO 'off'
AS $function$
begin
  return (select coalesce(json_agg(
      case when t.waited is null then to_json(doc)
           -- The waits a suspended handler has passed (edgeflow.suspend_task), in order.
           else (to_jsonb(doc) || jsonb_build_object('waited', t.waited))::json end
      order by i.ord), '[]')
    from unnest(p_ids) with ordinality as i(id, ord)
    cross join lateral (
      select t.id, t.lease, t.run_id, t.slug, t.attempts, t.max_attempts, t.task_index,
             t.lease_expires_at, t.item, t.waited
        from edgeflow.tasks t where t.id = i.id offset 0) t
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
    cross join lateral (
      select coalesce(json_object_agg(d.slug, d.output), '{}') as deps
        from edgeflow.step_states d
       where d.run_id = t.run_id and d.slug = any(fs.depends_on)) dp
    -- The document's keys are these columns' names (to_json of the row).
    cross join lateral (
      select t.id as task, t.lease as lease, t.run_id as run_id, r.flow_name as flow,
             t.slug as step, fs.handler as handler, t.attempts as attempt,
             t.max_attempts as max_attempts, t.task_index as task_index,
             edgeflow.iso(t.lease_expires_at) as lease_expires_at,
             edgeflow.trace_context(r.id, r.trace, t.id, t.attempts) as trace,
             case when fs.map_from is null
                  then json_build_object('run', r.parameters, 'deps', dp.deps, 'args', fs.args)
                  else json_build_object('run', r.parameters, 'deps', dp.deps, 'args', fs.args,
                                         'item', t.item) end as input) doc);
end
$function$;

-- from sql/functions/edgeflow._claim_tasks_limited.sql
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

-- from sql/functions/edgeflow.heartbeat.sql
-- The worker protocol in one statement: liveness, leases, and new work.
CREATE OR REPLACE FUNCTION edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_leases jsonb := '{"lost": [], "cancel": [], "extended": 0}';
  v_handlers text[] := case when jsonb_typeof(p_handlers) = 'array'
                            then array(select jsonb_array_elements_text(p_handlers)) end;
  v_capacity integer := coalesce(p_capacity, 0);
  -- Both times by the engine's clock (not the columns' now() defaults): a new
  -- worker under a moved test clock is online from its first beat.
  v_now timestamptz := edgeflow.now();
  v_fresh boolean;
begin
  -- A heartbeat's writes need not wait for the WAL flush: liveness is
  -- refreshed every few seconds, a lost lease extension only lets a lease
  -- expire early, and a claim the database forgets after a crash is refused
  -- at completion by fencing and run again. At-least-once holds either way,
  -- and the commit no longer waits on the disk (the bench: 2.5x heartbeats/s).
  perform set_config('synchronous_commit', 'off', true);
  -- The worker's row is written only when something in it changed or its
  -- last beat is more than a second old: liveness is judged over 3 heartbeat
  -- intervals, so a second of lag changes nothing, and a beat that writes
  -- nothing commits no transaction at all. Backend CPU per capacity-0 beat
  -- without leases (one session, 16 workers, 4 × 3,000 calls interleaved):
  -- 147–187 µs this way against 277–350 µs writing every beat (`select 1`:
  -- 50–57 µs in the same run).
  -- A busy worker asks for its free slots, which differ from call to call
  -- (a batch's `next` frees as many as it reported), so a changed capacity
  -- writes only when it starts or stops being 0 (full or draining, which the
  -- workers page shows): a nonzero capacity is as of the last second, as the
  -- beat's time is. pgbench, 4 clients, 8 s rounds interleaved, empty queue,
  -- worker_heartbeat with capacity 1-10 at random: 14,547-14,721 calls/s
  -- when every change wrote, 21,228-21,578 this way (a constant capacity:
  -- 21,036-22,541 either way).
  select w.pool = p_pool and w.handlers is not distinct from v_handlers
         and (w.capacity = v_capacity or (w.capacity > 0 and v_capacity > 0))
         and w.heartbeat_seconds = p_heartbeat_seconds
         and w.last_heartbeat_at between v_now - interval '1 second' and v_now
    into v_fresh
    from edgeflow.workers w where w.name = p_worker;
  if v_fresh is not true then
    insert into edgeflow.workers (name, pool, handlers, capacity, heartbeat_seconds,
                                  first_heartbeat_at, last_heartbeat_at)
    values (p_worker, p_pool, v_handlers, v_capacity, p_heartbeat_seconds, v_now, v_now)
    on conflict (name) do update
       set pool = excluded.pool, handlers = excluded.handlers, capacity = excluded.capacity,
           heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = v_now;
  end if;
  -- An idle worker holds no leases and a full one has no room: neither call is made for them.
  if jsonb_typeof(p_running) = 'array' and jsonb_array_length(p_running) > 0 then
    v_leases := edgeflow.extend_leases(p_running);
  end if;
  if v_capacity <= 0 then
    return (v_leases || '{"tasks": []}')::json;
  end if;
  -- json, as claim_tasks returns its documents (see _tasks_json).
  return json_build_object('lost', v_leases -> 'lost', 'cancel', v_leases -> 'cancel',
                           'extended', v_leases -> 'extended',
                           'tasks', edgeflow.claim_tasks(p_pool, p_handlers, p_capacity, p_worker));
end
$function$;

-- from sql/functions/edgeflow.worker_heartbeat.sql
-- Heartbeat as the key `p_key_id` (admin: `p_admin`). The binding is taken
-- with insert … on conflict do nothing, so of two keys racing for a new name
-- exactly one wins; the loser reads the winner's row and is refused.
CREATE OR REPLACE FUNCTION edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_found boolean;
  v_owner uuid;
begin
  select true, o.key_id into v_found, v_owner
    from edgeflow.worker_owners o where o.worker = p_worker;
  if v_found is null then
    insert into edgeflow.worker_owners (worker, key_id) values (p_worker, p_key_id)
    on conflict (worker) do nothing;
    select true, o.key_id into v_found, v_owner
      from edgeflow.worker_owners o where o.worker = p_worker;
  end if;
  if not p_admin and v_owner is distinct from p_key_id then
    return json_build_object('error', 'worker_name_taken');
  end if;
  return edgeflow.heartbeat(p_worker, p_pool, p_handlers, p_capacity, p_running,
                            p_heartbeat_seconds);
end
$function$;

-- from sql/functions/edgeflow._claim_next.sql
-- The `next` of a batch of results (edgeflow.complete_tasks_and_claim and
-- edgeflow.fail_tasks_and_claim): the worker's heartbeat claim as
-- edgeflow.worker_heartbeat makes it (no leases to extend), made after the
-- results in their transaction, so it sees what they made ready. Returns the
-- heartbeat's answer or its refusal ({"error": "worker_name_taken"}).
--
-- The commit must still wait for the WAL flush, as the results' must:
-- edgeflow.heartbeat turns synchronous_commit off for its transaction (a
-- heartbeat alone may be lost), so the setting the claim began with is put
-- back after it (migration 0260 fixed results committed asynchronously).
CREATE OR REPLACE FUNCTION edgeflow._claim_next(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sync text := pg_catalog.current_setting('synchronous_commit');
  v_next json;
begin
  v_next := edgeflow.worker_heartbeat(p_key_id, p_admin, p_worker, p_pool, p_handlers,
                                      p_capacity, '[]'::jsonb, p_heartbeat_seconds);
  perform pg_catalog.set_config('synchronous_commit', v_sync, true);
  return v_next;
end
$function$;

-- from sql/functions/edgeflow._task_json.sql
-- One task's document: _tasks_json of one id (null when there is no such task).
-- plpgsql, not sql: a SQL-language function with a SET clause is planned
-- anew on every call (0.8 ms here, the most expensive part of a claim);
-- plpgsql keeps the plan for the session.
CREATE OR REPLACE FUNCTION edgeflow._task_json(p_task_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (edgeflow._tasks_json(array[p_task_id]) -> 0)::jsonb;
end
$function$;

-- from sql/functions/edgeflow.complete_tasks_and_claim.sql
-- A worker's batch of results and its next claim in one call and one
-- transaction (`POST /heartbeat/tasks/complete` with `next`): the results as
-- edgeflow.complete_tasks accepts or refuses them, entry by entry, then the
-- worker's heartbeat claim as edgeflow.worker_heartbeat makes it (no leases
-- to extend). Returns {results, due, next}: `results` in the order given,
-- `due` as edgeflow.subflows_due() after the results, `next` the heartbeat's
-- answer or its refusal ({"error": "worker_name_taken"}, results still
-- accepted). The claim sees what the results made ready in this transaction
-- (pgmq's visibility is clock_timestamp()), so a chain's next step goes to
-- the worker that finished the step before it, and no other worker sees it
-- until the commit. An exception anywhere aborts both: nothing is accepted,
-- and the worker retries the results as after any failed call.
--
-- The commit waits for the WAL flush as a result's must: edgeflow._claim_next
-- puts back the synchronous_commit the heartbeat turns off.
--
-- Figures (tests/bench/peers/diagnose.ts --only http, 1,500 chains of 3, 8
-- workers, claims of 10, interleaved runs on a quiet machine): as one durable
-- transaction 2,491 and 1,888 steps/s, as two (results, then the claim)
-- 2,430 and 2,088: no difference past the host's noise. A first measurement
-- (1,188/1,312 → 1,444/1,528) was of migration 0259, whose results committed
-- asynchronously under the heartbeat's setting: a durability bug, fixed in
-- 0260, and no gain once fixed. Kept for what it does, not for speed: the
-- worker that finished a step claims its dependents in the same transaction.
-- tests/bench engine.chain.claim1_next (one task per call) runs 0.85-0.96 x
-- engine.chain.claim1: the heartbeat's worker lookup costs more than the
-- claim_tasks call claim1 makes.
CREATE OR REPLACE FUNCTION edgeflow.complete_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_results jsonb := '[]'::jsonb;
  v_due boolean;
begin
  if pg_catalog.jsonb_array_length(p_results) > 0 then
    v_results := edgeflow.complete_tasks(p_results);
  end if;
  v_due := edgeflow.subflows_due();
  return pg_catalog.json_build_object('results', v_results, 'due', v_due,
    'next', edgeflow._claim_next(p_key_id, p_admin, p_worker, p_pool, p_handlers, p_capacity,
                                 p_heartbeat_seconds));
end
$function$;

-- from sql/functions/edgeflow.fail_tasks_and_claim.sql
-- A worker's batch of failures and its next claim in one call and one
-- transaction (`POST /heartbeat/tasks/fail` with `next`), as
-- edgeflow.complete_tasks_and_claim is for completions: the failures as
-- edgeflow.fail_tasks accepts or refuses them, entry by entry (a retry is
-- scheduled with its backoff, a last attempt fails the step and the run),
-- then the worker's heartbeat claim as edgeflow.worker_heartbeat makes it.
-- Returns {results, due, next}: `results` in the order given, `due` as
-- edgeflow.subflows_due() after the failures (a child run that failed settles
-- its parent's subflow task), `next` the heartbeat's answer or its refusal
-- ({"error": "worker_name_taken"}, failures still recorded). The slots the
-- failures freed are filled in the same round trip: without it a worker whose
-- handlers fail makes a failure call and then a heartbeat for each batch.
-- An exception anywhere aborts both, and the worker retries the failures.
--
-- The commit waits for the WAL flush as a result's must: edgeflow._claim_next
-- puts back the synchronous_commit the heartbeat turns off.
CREATE OR REPLACE FUNCTION edgeflow.fail_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_results jsonb := '[]'::jsonb;
  v_due boolean;
begin
  if pg_catalog.jsonb_array_length(p_results) > 0 then
    v_results := edgeflow.fail_tasks(p_results);
  end if;
  v_due := edgeflow.subflows_due();
  return pg_catalog.json_build_object('results', v_results, 'due', v_due,
    'next', edgeflow._claim_next(p_key_id, p_admin, p_worker, p_pool, p_handlers, p_capacity,
                                 p_heartbeat_seconds));
end
$function$;
