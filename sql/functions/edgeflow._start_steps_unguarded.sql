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
