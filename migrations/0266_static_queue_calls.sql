-- static_queue_calls: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow._mq_delete.sql
-- pgmq.delete (of many messages) for the engine's hot path; rewritten by
-- edgeflow._mq_compile as handler queues are made (see _mq_read).
CREATE OR REPLACE FUNCTION edgeflow._mq_delete(p_queue text, p_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
begin
  return query select * from pgmq.delete(p_queue, p_ids);
end
$function$;

-- from sql/functions/edgeflow._mq_read.sql
-- pgmq.read for the engine's hot path. This is the body a database starts
-- with (every queue through pgmq.read); edgeflow._mq_compile rewrites it, as
-- each handler queue is made, with one static statement per handler queue
-- (see there for the figure).
CREATE OR REPLACE FUNCTION edgeflow._mq_read(p_queue text, p_vt integer, p_qty integer)
 RETURNS SETOF pgmq.message_record
 LANGUAGE plpgsql
AS $function$
begin
  return query select * from pgmq.read(p_queue, p_vt, p_qty);
end
$function$;

-- from sql/functions/edgeflow._mq_set_vt.sql
-- pgmq.set_vt for the engine's hot path (the message visible again p_vt
-- seconds from now); rewritten by edgeflow._mq_compile as handler queues are
-- made (see _mq_read).
CREATE OR REPLACE FUNCTION edgeflow._mq_set_vt(p_queue text, p_id bigint, p_vt integer)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
begin
  perform pgmq.set_vt(p_queue, p_id, p_vt);
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
    for m in select * from edgeflow._mq_read(hq.queue_name, hq.vt_seconds, v_left) loop
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
      update edgeflow.tasks
         set status = 'RUNNING', attempts = attempts + 1, lease = gen_random_uuid(),
             lease_expires_at = case when t.heartbeat
                                     then v_now + make_interval(secs => v_timeout) end,
             worker = p_worker, started_at = coalesce(started_at, v_now),
             holds_slots = cardinality(v_keys) > 0
       where id = t.id;
      if t.run_status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = v_now
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      v_out := v_out || edgeflow._tasks_json(array[t.id]);
      v_left := v_left - 1;
    end loop;
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow._mq_send.sql
-- pgmq.send_batch (messages visible at p_vt, no headers) for the engine's hot
-- path; rewritten by edgeflow._mq_compile as handler queues are made (see
-- _mq_read). Ids come back in the order of p_msgs.
CREATE OR REPLACE FUNCTION edgeflow._mq_send(p_queue text, p_msgs jsonb[], p_vt timestamp with time zone)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
begin
  return query select * from pgmq.send_batch(p_queue, p_msgs, null::jsonb[], p_vt);
end
$function$;

-- from sql/functions/edgeflow._mq_compile.sql
-- Rewrite the engine's four pgmq calls (edgeflow._mq_read, _mq_delete,
-- _mq_send, _mq_set_vt) with one static statement per handler queue, pgmq's
-- own function as the fallback for any other queue. Called where a handler
-- queue is made (edgeflow.ensure_handler_queue), under the lock that
-- serialises making queues, so two sessions never replace a function at once.
--
-- Why: every pgmq call builds its statement with format() and runs it by
-- EXECUTE, which parses and plans it anew on every call; a static statement
-- in plpgsql is planned once per session. Figure that decided it (pgbench,
-- one client, an empty queue on the real 1.5.1 extension, docs/hotpath.md
-- "Session 11"): pgmq.read 187-493 µs a call against 30-64 µs for the
-- statement it builds, sent as is; pg_stat_user_functions over one-task
-- chains (tests/bench/fn_profile.ts --batch 1, session 12): the three pgmq
-- calls of a step took 708 of its 3,386 µs of SQL.
--
-- The statements are those of both pgmq implementations (ours and the 1.5.1
-- extension have the same queue tables). At most 64 queues get a branch (a
-- CASE tests them in turn); the others, and a queue whose table is gone, go
-- through pgmq. A role that may not replace these functions (not their owner)
-- keeps them as they are: the fallback is always correct.
CREATE OR REPLACE FUNCTION edgeflow._mq_compile()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  v_read text := '';
  v_delete text := '';
  v_send text := '';
  v_set_vt text := '';
  v_n integer := 0;
begin
  for q in
    select h.queue_name, c.relname as tbl
      from edgeflow.handler_queues h
      join pg_catalog.pg_class c on c.relname = 'q_' || h.queue_name and c.relkind in ('r', 'p')
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = 'pgmq'
     where h.queue_name ~ '^[a-z0-9_]+$'
     order by h.queue_name
     limit 64
  loop
    v_n := v_n + 1;
    v_read := v_read || format(
      E'\n    when %L then\n'
      '      return query with picked as (\n'
      '          select m.msg_id from pgmq.%I m where m.vt <= clock_timestamp()\n'
      '           order by m.msg_id limit p_qty for update skip locked)\n'
      '        update pgmq.%2$I m\n'
      '           set vt = clock_timestamp() + make_interval(secs => p_vt), read_ct = m.read_ct + 1\n'
      '          from picked where m.msg_id = picked.msg_id\n'
      '        returning m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers;',
      q.queue_name, q.tbl);
    v_delete := v_delete || format(
      E'\n    when %L then\n'
      '      return query delete from pgmq.%I m where m.msg_id = any(p_ids) returning m.msg_id;',
      q.queue_name, q.tbl);
    v_send := v_send || format(
      E'\n    when %L then\n'
      '      return query insert into pgmq.%I (vt, message)\n'
      '        select p_vt, x.msg from unnest(p_msgs) with ordinality as x(msg, ord) order by x.ord\n'
      '        returning msg_id;',
      q.queue_name, q.tbl);
    v_set_vt := v_set_vt || format(
      E'\n    when %L then\n'
      '      update pgmq.%I m set vt = clock_timestamp() + make_interval(secs => p_vt)\n'
      '       where m.msg_id = p_id;',
      q.queue_name, q.tbl);
  end loop;
  if v_n = 0 then
    return;
  end if;
  execute format(
    $ddl$CREATE OR REPLACE FUNCTION edgeflow._mq_read(p_queue text, p_vt integer, p_qty integer)
 RETURNS SETOF pgmq.message_record
 LANGUAGE plpgsql
AS $body$
begin
  case p_queue%s
    else
      return query select * from pgmq.read(p_queue, p_vt, p_qty);
  end case;
end
$body$$ddl$, v_read);
  execute format(
    $ddl$CREATE OR REPLACE FUNCTION edgeflow._mq_delete(p_queue text, p_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $body$
begin
  case p_queue%s
    else
      return query select * from pgmq.delete(p_queue, p_ids);
  end case;
end
$body$$ddl$, v_delete);
  execute format(
    $ddl$CREATE OR REPLACE FUNCTION edgeflow._mq_send(p_queue text, p_msgs jsonb[], p_vt timestamp with time zone)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $body$
begin
  case p_queue%s
    else
      return query select * from pgmq.send_batch(p_queue, p_msgs, null::jsonb[], p_vt);
  end case;
end
$body$$ddl$, v_send);
  execute format(
    $ddl$CREATE OR REPLACE FUNCTION edgeflow._mq_set_vt(p_queue text, p_id bigint, p_vt integer)
 RETURNS void
 LANGUAGE plpgsql
AS $body$
begin
  case p_queue%s
    else
      perform pgmq.set_vt(p_queue, p_id, p_vt);
  end case;
end
$body$$ddl$, v_set_vt);
exception when insufficient_privilege then
  -- Not the functions' owner: the fallback bodies stay, and stay correct.
  null;
end
$function$;

-- from sql/functions/edgeflow.ensure_handler_queue.sql
-- The pgmq queue for a handler in a pool's queue; created on first use, when
-- the engine's static pgmq calls are rewritten to include it
-- (edgeflow._mq_compile). One lock for making any queue (migration 0266; one
-- per queue name before): the rewrite replaces functions, which two sessions
-- must not do at once, and a transaction holding it makes queues in any order
-- without deadlocking another.
CREATE OR REPLACE FUNCTION edgeflow.ensure_handler_queue(p_pool text, p_queue text, p_handler text, p_vt integer)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_name text;
begin
  select hq.queue_name into v_name from edgeflow.handler_queues hq
   where hq.pool = p_pool and hq.queue = p_queue and hq.handler = p_handler;
  if found then
    return v_name;
  end if;
  -- pgmq names are table names: derive a short, safe one from the triple.
  v_name := 'ef_' || substr(md5(p_pool || chr(31) || p_queue || chr(31) || p_handler), 1, 24);
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:make'));
  insert into edgeflow.pool_queues (pool, name) values (p_pool, p_queue) on conflict do nothing;
  if not exists (select 1 from edgeflow.handler_queues hq where hq.queue_name = v_name) then
    perform pgmq.create(v_name);
    insert into edgeflow.handler_queues (pool, queue, handler, queue_name, vt_seconds)
    values (p_pool, p_queue, p_handler, v_name, greatest(p_vt, 1)) on conflict do nothing;
    perform edgeflow._mq_compile();
  end if;
  return v_name;
end
$function$;

-- from sql/functions/edgeflow._start_steps_unguarded.sql
-- Start steps of a running run (the caller checked it runs and holds no slot
-- in line): one task each, or one per element for a map step.
-- A generic plan, forced: the statements take the task count and the id array
-- as parameters, so the custom plan (generate_series(1, 1): 1 row) always
-- looked cheaper than the generic one (1,000 rows) and the plan cache planned
-- them again on every call (as _tasks_json, see there). The messages go
-- through edgeflow._mq_send (a static statement per handler queue since
-- migration 0266, see _mq_compile); a subflow's through pgmq.send_batch(queue,
-- msgs, headers, vt) itself: the (queue, msgs, delay) overload is a wrapper (a
-- SQL function in the pgmq extension, planned on every call). Figure that
-- decided the latter (backend user CPU of 1,000 top-level
-- one-message send_batch calls on the real extension, one session, the two
-- forms interleaved 4 times, 2-core machine at load average ~15): 440-550 µs
-- per call through the vt overload against 480-720 µs through the wrapper.
CREATE OR REPLACE FUNCTION edgeflow._start_steps_unguarded(p_run_id uuid, p_slugs text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  r record;
  s record;
  v_work text[] := p_slugs;
  v_slug text;
  v_items jsonb;
  v_n integer;
  v_queue text;
  v_at timestamptz;
  v_ids uuid[];
  v_msgs bigint[];
  v_id uuid;
  v_ready text[];
  -- The engine's clock once per call (see claim_tasks).
  v_now timestamptz := edgeflow.now();
begin
  select id, flow_version_id, pool, queue, scheduled_time, created_at into r
    from edgeflow.runs where id = p_run_id;
  while cardinality(v_work) > 0 loop
    v_slug := v_work[1];
    v_work := v_work[2:];
    select * into s from edgeflow.flow_steps
     where flow_version_id = r.flow_version_id and slug = v_slug;
    -- Events and waits (issue 16): a `wait` or `sleep` step enqueues no task.
    if s.wait is not null then
      v_ready := edgeflow._start_wait(p_run_id, v_slug, s.wait);
      if v_ready is null then
        return;
      end if;
      v_work := v_work || v_ready;
      continue;
    end if;
    -- Per-key step concurrency (issue 16): in line until its keys have a slot.
    if s.concurrency is not null and not edgeflow._take_step_slots(p_run_id, v_slug) then
      continue;
    end if;
    v_items := null;
    v_n := 1;
    if s.map_from is not null then
      select output into v_items from edgeflow.step_states
       where run_id = p_run_id and slug = s.map_from;
      if jsonb_typeof(v_items) is distinct from 'array' then
        perform edgeflow._fail_run(p_run_id, v_slug, jsonb_build_object(
          'message', format('step "%s" maps over "%s", whose output is not an array',
                            v_slug, s.map_from)));
        return;
      end if;
      v_n := jsonb_array_length(v_items);
    end if;

    if v_n = 0 then
      update edgeflow.step_states
         set status = 'COMPLETED', output = '[]', remaining_tasks = 0, total_tasks = 0,
             queued_at = v_now, started_at = v_now, ended_at = v_now
       where run_id = p_run_id and slug = v_slug;
      v_work := v_work || edgeflow._step_done(p_run_id, r.flow_version_id, v_slug);
      continue;
    end if;

    v_at := greatest(v_now + make_interval(secs => s.start_delay),
                     coalesce(r.scheduled_time, '-infinity'));
    -- One task (every step but a map's): an expression, not a query.
    if v_n = 1 then
      v_ids := array[gen_random_uuid()];
    else
      v_ids := array(select gen_random_uuid() from generate_series(1, v_n));
    end if;

    if s.deployment is not null then
      insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                  queue_name, msg_id, available_at, run_created_at)
      select v_ids[i], p_run_id, v_slug, i - 1,
             case when s.map_from is null then null else v_items -> (i - 1) end,
             'QUEUED', s.max_attempts, 'ef_subflows', null, v_at, r.created_at
        from generate_series(1, v_n) as i;
      update edgeflow.step_states
         set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = v_now
       where run_id = p_run_id and slug = v_slug;
      if v_at > v_now then
        v_msgs := array(
          select pgmq.send_batch(
            'ef_subflows',
            array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                    from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
            null::jsonb[], clock_timestamp() + make_interval(secs => edgeflow.delay_seconds(v_at))));
        update edgeflow.tasks t set msg_id = v_msgs[m.ord]
          from unnest(v_ids) with ordinality as m(id, ord)
         where t.id = m.id;
        continue;
      end if;
      foreach v_id in array v_ids loop
        perform edgeflow._start_subflow_task(v_id);
        -- A child refused (or ended at birth and failed the step for good)
        -- ended this run: nothing else starts.
        if exists (select 1 from edgeflow.runs where id = p_run_id
                      and status not in ('PENDING', 'SCHEDULED', 'RUNNING')) then
          return;
        end if;
      end loop;
      continue;
    end if;

    v_queue := edgeflow.ensure_handler_queue(r.pool, r.queue, s.handler, s.timeout);
    v_msgs := array(
      select edgeflow._mq_send(
        v_queue,
        array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
        clock_timestamp() + make_interval(secs => edgeflow.delay_seconds(v_at))));
    insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                queue_name, msg_id, available_at, run_created_at)
    select v_ids[i], p_run_id, v_slug, i - 1,
           case when s.map_from is null then null else v_items -> (i - 1) end,
           'QUEUED', s.max_attempts, v_queue, v_msgs[i], v_at, r.created_at
      from generate_series(1, v_n) as i;
    update edgeflow.step_states
       set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = v_now
     where run_id = p_run_id and slug = v_slug;
  end loop;
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
    with msgs as (
      select mm.msg_id, mm.task_id from unnest(v_msgs, v_tasks) as mm(msg_id, task_id)
    ), cand as (
      select t.id, t.run_id, t.slug, t.holds_slots, mm.msg_id, r.status as run_status,
             r.heartbeat, fs.timeout
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
                c.timeout
    ), freed as (
      -- A re-claimed expired lease whose limit was lifted meanwhile.
      delete from edgeflow.slots s using leased l where l.holds_slots and s.holder = l.id
    ), started_steps as (
      update edgeflow.step_states ss set status = 'RUNNING', started_at = v_now
        from (select distinct run_id, slug from leased) l
       where ss.run_id = l.run_id and ss.slug = l.slug and ss.status = 'QUEUED'
    ), started_runs as (
      update edgeflow.runs r set status = 'RUNNING', started_at = coalesce(r.started_at, v_now)
       where r.id in (select run_id from leased where run_status <> 'RUNNING')
         and r.status in ('PENDING', 'SCHEDULED')
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
                  order by mm.msg_id)
      into v_ids, v_vt, v_vt_secs, v_leftover, v_leftover_tasks;

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
-- dependents and the run; _start_steps starts the ready ones (maps, subflows,
-- waits and per-key limits included).
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
begin
  if v_problem is not null then
    return v_problem;
  end if;
  update edgeflow.tasks
     set status = 'COMPLETED', output = coalesce(p_output, 'null'::jsonb), lease = null,
         lease_expires_at = null, ended_at = edgeflow.now()
   where id = p_task_id
  returning run_id, slug, queue_name, msg_id into t;
  if t.msg_id is not null then
    perform edgeflow._mq_delete(t.queue_name, array[t.msg_id]);
  end if;
  -- Count down and, at zero, complete with the output (a map step's: its
  -- tasks' outputs in order) in one update, as complete_tasks does.
  update edgeflow.step_states ss
     set remaining_tasks = ss.remaining_tasks - 1,
         status = case when ss.remaining_tasks = 1 then 'COMPLETED' else ss.status end,
         ended_at = case when ss.remaining_tasks = 1 then edgeflow.now() else ss.ended_at end,
         output = case when ss.remaining_tasks <> 1 then ss.output
                       when fs.map_from is null then coalesce(p_output, 'null'::jsonb)
                       else (select coalesce(jsonb_agg(tk.output order by tk.task_index), '[]')
                               from edgeflow.tasks tk
                              where tk.run_id = ss.run_id and tk.slug = ss.slug) end
    from edgeflow.runs r
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
   where r.id = t.run_id and ss.run_id = t.run_id and ss.slug = t.slug
  returning ss.remaining_tasks, r.flow_version_id into v_step;
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
    select e.ord, e.task, e.output, r.id as run_id,
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
                    filter (where v.refusal ->> 'error' = 'run_not_running'), '{}')
    into v_verdicts, v_runs, v_ok, v_ok_out, v_late
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
    update edgeflow.tasks t
       set status = 'COMPLETED', output = o.output, lease = null, lease_expires_at = null,
           ended_at = v_now
      from unnest(v_ok, v_ok_out) as o(id, output)
     where t.id = o.id;
    -- Their steps count down and, at zero, complete with their output (a map
    -- step's: its tasks' outputs in order), in one update.
    with n as (
      select run_id, slug, count(*)::integer as c from edgeflow.tasks
       where id = any(v_ok) group by run_id, slug
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
      returning ss.run_id, ss.slug, ss.remaining_tasks
    )
    select array_agg(c.run_id order by c.run_id, c.slug) filter (where c.remaining_tasks = 0),
           array_agg(c.slug order by c.run_id, c.slug) filter (where c.remaining_tasks = 0)
      into v_done_runs, v_done_slugs
      from counted c;
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

-- A database that already has handler queues gets its static calls now, not
-- at the next queue it makes.
DO $$
begin
  if exists (select 1 from edgeflow.handler_queues) then
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:make'));
    perform edgeflow._mq_compile();
  end if;
end
$$;
