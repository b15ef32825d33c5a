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
