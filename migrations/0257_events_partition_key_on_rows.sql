-- events_partition_key_on_rows: written by `deno task sql:migration` from what changed in sql/.

-- The events' partition key carried on the row (see edgeflow._task_event): nullable,
-- so rows written before this keep working through a lookup of their run.
alter table edgeflow.step_states add column run_created_at timestamp with time zone;

-- The events' partition key carried on the row (see edgeflow._task_event): nullable,
-- so rows written before this keep working through a lookup of their run.
alter table edgeflow.tasks add column run_created_at timestamp with time zone;

-- from sql/functions/edgeflow._start_steps_unguarded.sql
-- Start steps of a running run (the caller checked it runs and holds no slot
-- in line): one task each, or one per element for a map step.
-- A generic plan, forced: the statements take the task count and the id array
-- as parameters, so the custom plan (generate_series(1, 1): 1 row) always
-- looked cheaper than the generic one (1,000 rows) and the plan cache planned
-- them again on every call (as _tasks_json, see there). The messages go
-- through pgmq.send_batch(queue, msgs, headers, vt) itself: the (queue, msgs,
-- delay) overload is a wrapper (a SQL function in the pgmq extension, planned
-- on every call). Figure that decided it (backend user CPU of 1,000 top-level
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
             queued_at = edgeflow.now(), started_at = edgeflow.now(), ended_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      v_work := v_work || edgeflow._step_done(p_run_id, r.flow_version_id, v_slug);
      continue;
    end if;

    v_at := greatest(edgeflow.now() + make_interval(secs => s.start_delay),
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
         set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      if v_at > edgeflow.now() then
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
      select pgmq.send_batch(
        v_queue,
        array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
        null::jsonb[], clock_timestamp() + make_interval(secs => edgeflow.delay_seconds(v_at))));
    insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                queue_name, msg_id, available_at, run_created_at)
    select v_ids[i], p_run_id, v_slug, i - 1,
           case when s.map_from is null then null else v_items -> (i - 1) end,
           'QUEUED', s.max_attempts, v_queue, v_msgs[i], v_at, r.created_at
      from generate_series(1, v_n) as i;
    update edgeflow.step_states
       set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
     where run_id = p_run_id and slug = v_slug;
  end loop;
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
-- (one pgmq.delete per queue), complete the tasks, update their steps once
-- (count down; at zero, completed with their output); for the steps that
-- finished: count down their dependents and runs, complete the runs that have
-- no step left, and start the dependents that became ready with one
-- pgmq.send_batch per queue. Map and subflow steps (fan-out, empty maps,
-- child runs) start through _start_steps as before.
--
-- Figure that decided it: batches of 50 through the per-entry loop over
-- complete_task spent ~1.8 ms of SQL per task (tests/bench/profile.ts); this
-- call spends ~0.5 ms per task (25 ms per batch of 50), and chains in batches
-- of 50 ran 2.3-2.5 x faster in the same runs (see claim_tasks).
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
  v_finished uuid[];
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
    perform pgmq.delete(v_late_task.queue_name, v_late_task.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = v_now where id = v_task;
    perform edgeflow._settle_cancelling(v_late_task.run_id);
  end loop;

  if cardinality(v_ok) > 0 then
    perform pgmq.delete(m.queue_name, m.msgs)
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
    -- Their dependents count down; those at zero are ready, in declaration order.
    with deps as (
      select d.run_id, dep.slug, count(*)::integer as c
        from unnest(v_done_runs, v_done_slugs) as d(run_id, slug)
        join edgeflow.runs r on r.id = d.run_id
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = d.slug
       cross join lateral unnest(fs.dependents) as dep(slug)
       group by d.run_id, dep.slug
    ), counted as (
      update edgeflow.step_states ss set remaining_deps = ss.remaining_deps - deps.c
        from deps where ss.run_id = deps.run_id and ss.slug = deps.slug
      returning ss.run_id, ss.slug, ss.remaining_deps, ss.step_index
    )
    select array_agg(c.run_id order by c.run_id, c.step_index) filter (where c.remaining_deps = 0),
           array_agg(c.slug order by c.run_id, c.step_index) filter (where c.remaining_deps = 0)
      into v_ready_runs, v_ready_slugs
      from counted c;

    -- Runs count down their steps; those at zero complete with their leaf steps' outputs.
    with n as (
      select run_id, count(*)::integer as c from unnest(v_done_runs) as d(run_id) group by run_id
    ), counted as (
      update edgeflow.runs r set remaining_steps = r.remaining_steps - n.c
        from n where r.id = n.run_id
      returning r.id, r.remaining_steps
    )
    select array_agg(c.id order by c.id) filter (where c.remaining_steps = 0) into v_finished
      from counted c;
    if v_finished is not null then
      update edgeflow.runs r
         set status = 'COMPLETED', ended_at = v_now,
             output = (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                         from edgeflow.step_states ss
                         join edgeflow.flow_steps fs
                           on fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
                        where ss.run_id = r.id and cardinality(fs.dependents) = 0)
       where r.id = any(v_finished);
    end if;
  end if;

  if v_ready_runs is not null then
    -- A run whose ready steps are all plain (no map, no subflow, no wait or
    -- sleep, no per-key limit) and that waits for no slot starts them here;
    -- any other goes through _start_steps, where those are handled.
    select array_agg(d.run_id order by d.ord) filter (where g2.plain),
           array_agg(d.slug order by d.ord) filter (where g2.plain)
      into v_fast_runs, v_fast_slugs
      from unnest(v_ready_runs, v_ready_slugs) with ordinality as d(run_id, slug, ord)
      join (select d2.run_id,
                   bool_and(fs.map_from is null and fs.deployment is null
                            and fs.wait is null and fs.concurrency is null
                            and r.awaiting_slot is null
                            and r.status in ('PENDING', 'SCHEDULED', 'RUNNING')) as plain
              from unnest(v_ready_runs, v_ready_slugs) as d2(run_id, slug)
              join edgeflow.runs r on r.id = d2.run_id
              join edgeflow.flow_steps fs
                on fs.flow_version_id = r.flow_version_id and fs.slug = d2.slug
             group by d2.run_id) g2 on g2.run_id = d.run_id;

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
        select pgmq.send_batch(
          g.queue_name,
          array(select jsonb_build_object('task', v_ids[i], 'run', g.runs[i])
                  from generate_series(1, cardinality(g.runs)) as i order by i),
          -- The vt overload itself, not the (queue, msgs, delay) wrapper (see
          -- _start_steps_unguarded).
          null::jsonb[], clock_timestamp() + make_interval(secs => g.delay)));
      insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                  queue_name, msg_id, available_at, run_created_at)
      select v_ids[i], g.runs[i], g.slugs[i], 0, null, 'QUEUED', g.max_attempts[i],
             g.queue_name, v_msgs[i], g.ats[i], g.created[i]
        from generate_series(1, cardinality(g.runs)) as i;
    end loop;
    if v_fast_runs is not null then
      update edgeflow.step_states ss
         set status = 'QUEUED', remaining_tasks = 1, total_tasks = 1, queued_at = v_now
        from unnest(v_fast_runs, v_fast_slugs) as d(run_id, slug)
       where ss.run_id = d.run_id and ss.slug = d.slug;
    end if;

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

-- from sql/functions/edgeflow.start_run.sql
-- Start a run of a flow version. Options (all optional): deployment_id, pool,
-- queue, tags, idempotency_scope + idempotency_key + request_hash,
-- parent_task_id, scheduled_time, trace (the run's trace context, see
-- edgeflow.trace_context). Returns {run_id, status, created} or
-- {error} for expected refusals (archived, unknown version, idempotency
-- conflict), never an exception for those.
-- created_at by the engine's clock, not the column's now() default: a run
-- triggered after a test moved the clock was that much older at once (late at
-- the next tick, its age on the dashboard off by the shift).
CREATE OR REPLACE FUNCTION edgeflow.start_run(p_flow_version_id uuid, p_parameters jsonb, p_opts jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  fv record;
  v_run_id uuid := gen_random_uuid();
  v_existing record;
  v_scheduled timestamptz := (p_opts ->> 'scheduled_time')::timestamptz;
  v_pool text := coalesce(p_opts ->> 'pool', 'default');
  v_queue text := coalesce(p_opts ->> 'queue', 'default');
  v_status text;
  v_steps integer;
  v_roots text[];
  v_tags text[];
begin
  select id, flow_name, version, archived, settings, definition -> 'tags' as tags into fv
    from edgeflow.flow_versions where id = p_flow_version_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if fv.archived then
    return jsonb_build_object('error', 'archived', 'flow', fv.flow_name, 'version', fv.version);
  end if;
  if not exists (select 1 from edgeflow.pools where name = v_pool) then
    return jsonb_build_object('error', 'unknown_pool', 'pool', v_pool);
  end if;
  v_status := case when v_scheduled > edgeflow.now() then 'SCHEDULED' else 'PENDING' end;
  select count(*), array_agg(slug order by step_index) filter (where cardinality(depends_on) = 0)
    into v_steps, v_roots
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  v_tags := array(
    select t.tag
      from jsonb_array_elements_text(
             case when jsonb_typeof(fv.tags) = 'array' then fv.tags else '[]' end
             || case when jsonb_typeof(p_opts -> 'tags') = 'array' then p_opts -> 'tags'
                     else '[]' end) with ordinality as t(tag, ord)
     group by t.tag
     order by min(t.ord));

  insert into edgeflow.runs (id, flow_version_id, flow_name, version, deployment_id, pool, queue,
                             parameters, tags, status, remaining_steps, version_lock, heartbeat,
                             idempotency_scope, idempotency_key, request_hash, parent_task_id,
                             scheduled_time, trace, created_at)
  values (v_run_id, fv.id, fv.flow_name, fv.version, (p_opts ->> 'deployment_id')::uuid,
          v_pool, v_queue, coalesce(p_parameters, '{}'), v_tags,
          v_status, v_steps,
          coalesce((fv.settings ->> 'version_lock')::boolean, true),
          coalesce((fv.settings ->> 'heartbeat')::boolean, true),
          p_opts ->> 'idempotency_scope', p_opts ->> 'idempotency_key',
          p_opts ->> 'request_hash', (p_opts ->> 'parent_task_id')::uuid, v_scheduled,
          p_opts -> 'trace', edgeflow.now())
  on conflict (idempotency_scope, idempotency_key) where idempotency_key is not null
  do nothing;

  if not found then
    -- Same key seen before: the same request gets the same run.
    select id, status, request_hash into v_existing from edgeflow.runs
     where idempotency_scope = p_opts ->> 'idempotency_scope'
       and idempotency_key = p_opts ->> 'idempotency_key';
    if v_existing.request_hash is distinct from p_opts ->> 'request_hash' then
      return jsonb_build_object('error', 'idempotency_conflict', 'run_id', v_existing.id);
    end if;
    return jsonb_build_object('run_id', v_existing.id, 'status', v_existing.status,
                              'created', false);
  end if;

  -- run_created_at: the events' partition key, carried so that the event
  -- triggers need not look the run up (see _step_event).
  insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps,
                                    run_created_at)
  select v_run_id, slug, step_index, 'PENDING', cardinality(depends_on),
         (select r.created_at from edgeflow.runs r where r.id = v_run_id)
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  perform edgeflow._start_steps(v_run_id, v_roots);

  select status into v_status from edgeflow.runs where id = v_run_id;
  return jsonb_build_object('run_id', v_run_id, 'status', v_status, 'created', true,
                            'flow', fv.flow_name, 'version', fv.version);
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
-- third of what the event log cost. A plain insert, the runs to notify read
-- again only when NOTIFY is on (see _task_event, migration 0257).
CREATE OR REPLACE FUNCTION edgeflow._run_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, at, run_created_at)
  select n.id, 'run', o.status, n.status, (select edgeflow.now()), n.created_at
    from new_rows n join old_rows o on o.id = n.id
   where o.status is distinct from n.status
     and n.status not in ('CANCELLING', 'CANCELLED', 'FAILED', 'CRASHED');
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(x.id)
       from (select distinct n.id from new_rows n join old_rows o on o.id = n.id
              where o.status is distinct from n.status
                and n.status not in ('CANCELLING', 'CANCELLED', 'FAILED', 'CRASHED')) x;
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
begin
  delete from edgeflow.slots where holder = md5(new.run_id::text || '/' || new.slug)::uuid;
  perform edgeflow.admit_queued_steps(array(
    select k.limit_key from edgeflow._step_key_slots(new.run_id, new.slug) k));
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER events_step_update AFTER UPDATE ON edgeflow.step_states REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._step_event();

-- Only steps holding key slots enter PL/pgSQL: every other step end passes by
-- on the WHEN clause.
CREATE OR REPLACE TRIGGER step_states_release_key_slots AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))) EXECUTE FUNCTION edgeflow._step_release_key_slots();

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
