-- A step completed: count down its dependents and the run, and complete the
-- run with the outputs of its leaf steps when this was the last step.
-- Dependents that became ready and are all plain are QUEUED by the count-down
-- and their tasks sent here (migration 0271; complete_task did this itself in
-- 0267, waits and empty maps did not); any other ready dependents are
-- returned, in declaration order, for the caller to start (_start_steps).
CREATE OR REPLACE FUNCTION edgeflow._step_done(p_run_id uuid, p_flow_version_id uuid, p_slug text)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_ready text[];
  v_fast boolean;
  s record;
  v_id uuid;
  v_msg bigint;
  -- The engine's clock once per call (see claim_tasks).
  v_now timestamptz := edgeflow.now();
begin
  -- Its dependents count down; those at zero are ready, in declaration
  -- order. When they are all plain (no map, no subflow, no wait or sleep, no
  -- per-key limit) and the run waits for no slot, this same update QUEUES
  -- them and their tasks are sent below; otherwise the caller starts them
  -- (as complete_tasks does since migration 0265, here since 0271).
  with deps as (
    select unnest(fs.dependents) as slug from edgeflow.flow_steps fs
     where fs.flow_version_id = p_flow_version_id and fs.slug = p_slug
  ), ready as (
    select deps.slug, ss.remaining_deps = 1 as ready,
           bool_and(fs.map_from is null and fs.deployment is null and fs.wait is null
                    and fs.concurrency is null and r.awaiting_slot is null
                    and r.status in ('PENDING', 'SCHEDULED', 'RUNNING'))
             filter (where ss.remaining_deps = 1) over () as plain
      from deps
      join edgeflow.step_states ss on ss.run_id = p_run_id and ss.slug = deps.slug
      join edgeflow.runs r on r.id = p_run_id
      join edgeflow.flow_steps fs
        on fs.flow_version_id = p_flow_version_id and fs.slug = deps.slug
  ), counted as (
    update edgeflow.step_states ss
       set remaining_deps = ss.remaining_deps - 1,
           status = case when rd.ready and rd.plain then 'QUEUED' else ss.status end,
           remaining_tasks = case when rd.ready and rd.plain then 1 else ss.remaining_tasks end,
           total_tasks = case when rd.ready and rd.plain then 1 else ss.total_tasks end,
           queued_at = case when rd.ready and rd.plain then v_now else ss.queued_at end
      from ready rd where ss.run_id = p_run_id and ss.slug = rd.slug
    returning ss.slug, ss.remaining_deps, ss.step_index, rd.ready and rd.plain as fast
  )
  select coalesce(array_agg(c.slug order by c.step_index) filter (where c.remaining_deps = 0),
                  '{}'),
         coalesce(bool_or(c.fast), false)
    into v_ready, v_fast
    from counted c;

  -- The run counts down and, with no step left, completes with its leaf
  -- steps' outputs in the same update (since migration 0265).
  update edgeflow.runs r
     set remaining_steps = r.remaining_steps - 1,
         status = case when r.remaining_steps = 1 then 'COMPLETED' else r.status end,
         ended_at = case when r.remaining_steps = 1 then v_now else r.ended_at end,
         output = case when r.remaining_steps <> 1 then r.output
                       else (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                               from edgeflow.step_states ss
                               join edgeflow.flow_steps fs
                                 on fs.flow_version_id = p_flow_version_id
                                and fs.slug = ss.slug
                              where ss.run_id = p_run_id and cardinality(fs.dependents) = 0) end
   where r.id = p_run_id;

  if not v_fast then
    return v_ready;
  end if;
  -- One message and one task per ready step (plain steps have one task).
  for s in
    select d.slug, fs.max_attempts, r.created_at,
           edgeflow.ensure_handler_queue(r.pool, r.queue, fs.handler, fs.timeout) as queue_name,
           greatest(v_now + make_interval(secs => fs.start_delay),
                    coalesce(r.scheduled_time, '-infinity')) as at
      from unnest(v_ready) with ordinality as d(slug, ord)
      join edgeflow.runs r on r.id = p_run_id
      join edgeflow.flow_steps fs
        on fs.flow_version_id = p_flow_version_id and fs.slug = d.slug
     order by d.ord
  loop
    v_id := gen_random_uuid();
    v_msg := (select edgeflow._mq_send(
                s.queue_name, array[jsonb_build_object('task', v_id, 'run', p_run_id)],
                clock_timestamp() + make_interval(secs => edgeflow.delay_seconds(s.at))));
    insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                queue_name, msg_id, available_at, run_created_at)
    values (v_id, p_run_id, s.slug, 0, null, 'QUEUED', s.max_attempts, s.queue_name, v_msg,
            s.at, s.created_at);
  end loop;
  return '{}';
end
$function$;
