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
