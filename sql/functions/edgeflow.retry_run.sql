-- Retry a FAILED, CRASHED or CANCELLED run as a new attempt of the same run
-- (Prefect's "retry": same id, same page, `retries` counts the attempts).
-- Completed steps keep their outputs. Failed and cancelled steps run again:
-- their unfinished tasks are queued once more with their attempt numbers
-- going on (a map step's completed tasks stay done), steps that never
-- started wait for their dependencies. With `p_from_step`, that step and
-- everything downstream of it run again from scratch (their tasks are
-- replaced). `p_parameters` (not null) replaces the run's parameters. The
-- flow version stays the run's own.
--
-- Returns {run_id, status, retries, steps: [slugs queued again]} or, for an
-- expected refusal, {error: not_found | not_finished | unknown_step |
-- subflow_child | limit_full | nothing_to_retry, …}, changing nothing. A
-- deployment's per-key slots are taken again (limit_full with `key` when
-- one is full).
CREATE OR REPLACE FUNCTION edgeflow.retry_run(p_run_id uuid, p_from_step text DEFAULT NULL::text, p_parameters jsonb DEFAULT NULL::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
  v_key text;
  v_limit integer;
  v_fresh text[] := '{}';
  v_rerun text[];
  v_task record;
begin
  select id, status, flow_version_id, deployment_id, parent_task_id into r
    from edgeflow.runs where id = p_run_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if r.status not in ('FAILED', 'CRASHED', 'CANCELLED') then
    return jsonb_build_object('error', 'not_finished', 'status', r.status);
  end if;
  if r.parent_task_id is not null then
    -- The parent's step already saw this child end; retry the parent instead.
    return jsonb_build_object('error', 'subflow_child', 'parent_task', r.parent_task_id);
  end if;
  if p_from_step is not null then
    if not exists (select 1 from edgeflow.flow_steps
                    where flow_version_id = r.flow_version_id and slug = p_from_step) then
      return jsonb_build_object('error', 'unknown_step', 'step', p_from_step);
    end if;
    with recursive down(slug) as (
      select p_from_step
      union
      select unnest(fs.dependents) from down d
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = d.slug
    )
    select array_agg(slug) into v_fresh from down;
  end if;
  select array_agg(slug order by step_index) into v_rerun from edgeflow.step_states
   where run_id = p_run_id and (status <> 'COMPLETED' or slug = any (v_fresh));
  if v_rerun is null then
    return jsonb_build_object('error', 'nothing_to_retry');
  end if;

  select concurrency_limit into v_limit from edgeflow.deployments where id = r.deployment_id;
  if v_limit is not null then
    v_key := 'deployment:' || r.deployment_id;
    perform edgeflow._slot_lock(v_key);
    if edgeflow._slots_held(v_key) >= v_limit then
      return jsonb_build_object('error', 'limit_full', 'limit', v_limit);
    end if;
    insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
    values (v_key, r.id, r.id, edgeflow.now());
  end if;
  -- Its per-key slots too (issue 16): without them a retried run would run beside another of
  -- its key. A key that is full refuses the retry, as a full deployment does.
  if not edgeflow._take_run_key_slots(p_run_id, p_parameters) then
    delete from edgeflow.slots where run_id = p_run_id;
    return jsonb_build_object('error', 'limit_full', 'key', true);
  end if;

  -- A step whose unfinished tasks cannot simply go again (none left, or it
  -- is re-run from scratch) loses its tasks and starts over when ready; so
  -- does a step with per-key `concurrency`, whose key slots are taken again
  -- only by starting it (edgeflow._take_step_slots).
  v_fresh := v_fresh || array(
    select ss.slug from edgeflow.step_states ss
      join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
     where ss.run_id = p_run_id and ss.slug = any (v_rerun)
       and (fs.concurrency is not null
            or not exists (select 1 from edgeflow.tasks t where t.run_id = p_run_id
                              and t.slug = ss.slug and t.status <> 'COMPLETED')));
  delete from edgeflow.slots
   where holder in (select id from edgeflow.tasks
                     where run_id = p_run_id and slug = any (v_fresh));
  delete from edgeflow.tasks where run_id = p_run_id and slug = any (v_fresh);
  update edgeflow.step_states
     set status = 'PENDING', output = null, error = null, remaining_tasks = null,
         total_tasks = null, queued_at = null, started_at = null, ended_at = null,
         -- Its key slots went back when it ended: starting it takes them again.
         holds_key_slots = false
   where run_id = p_run_id and slug = any (v_fresh);

  -- The other steps to re-run: their unfinished tasks go again, fenced (a
  -- worker still holding an old lease is refused when it reports).
  for v_task in
    select t.id, fs.max_attempts from edgeflow.tasks t
      join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
     where t.run_id = p_run_id and t.slug = any (v_rerun) and t.status <> 'COMPLETED'
     order by t.slug, t.task_index for update of t
  loop
    update edgeflow.tasks
       set status = 'QUEUED', max_attempts = attempts + v_task.max_attempts, lease = null,
           lease_expires_at = null, worker = null, error = null, ended_at = null,
           available_at = edgeflow.now()
     where id = v_task.id;
    perform edgeflow._requeue(v_task.id, edgeflow.now());
  end loop;
  update edgeflow.step_states ss
     set status = 'QUEUED', error = null, ended_at = null,
         remaining_tasks = (select count(*) from edgeflow.tasks t where t.run_id = p_run_id
                              and t.slug = ss.slug and t.status <> 'COMPLETED')
   where ss.run_id = p_run_id and ss.slug = any (v_rerun) and not ss.slug = any (v_fresh);

  -- Dependencies are counted again: a re-run step waits for re-run upstream steps.
  update edgeflow.step_states ss
     set remaining_deps = (
       select count(*) from edgeflow.flow_steps fs
         join edgeflow.step_states dep on dep.run_id = p_run_id and dep.slug = any (fs.depends_on)
        where fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
          and dep.status <> 'COMPLETED')
   where ss.run_id = p_run_id and ss.slug = any (v_fresh);

  update edgeflow.runs
     set status = 'PENDING', error = null, output = null, ended_at = null, lazarus_due = false,
         awaiting_slot = null, retries = retries + 1,
         parameters = coalesce(p_parameters, parameters),
         remaining_steps = (select count(*) from edgeflow.step_states
                             where run_id = p_run_id and status <> 'COMPLETED')
   where id = p_run_id;
  perform edgeflow._start_ready_steps(p_run_id);
  return jsonb_build_object(
    'run_id', p_run_id, 'retries', (select retries from edgeflow.runs where id = p_run_id),
    'status', (select status from edgeflow.runs where id = p_run_id),
    'steps', to_jsonb(v_rerun));
end
$function$;
