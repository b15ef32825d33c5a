-- engine_clock_slots_deliveries: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow._admit_waiting.sql
-- Give free slots of a deployment to its waiting runs, oldest first.
-- Returns how many runs were admitted.
CREATE OR REPLACE FUNCTION edgeflow._admit_waiting(p_deployment_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_key text := 'deployment:' || p_deployment_id;
  v_limit integer;
  v_run record;
  v_admitted integer := 0;
begin
  if exists (select 1 from edgeflow.deployments
              where id = p_deployment_id and jsonb_array_length(concurrency) > 0) then
    -- Per-key concurrency (issue 16): round robin across keys.
    return edgeflow._admit_keyed(p_deployment_id);
  end if;
  select concurrency_limit into v_limit from edgeflow.deployments where id = p_deployment_id;
  perform edgeflow._slot_lock(v_key);
  loop
    exit when v_limit is not null and edgeflow._slots_held(v_key) >= v_limit;
    -- skip locked: a waiting run locked right now is being cancelled.
    select id, scheduled_time into v_run from edgeflow.runs
     where deployment_id = p_deployment_id and awaiting_slot is not null
       and status in ('SCHEDULED', 'PENDING')
     order by created_at, id limit 1
       for update skip locked;
    exit when not found;
    if v_limit is not null then
      insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
      values (v_key, v_run.id, v_run.id, edgeflow.now());
    end if;
    update edgeflow.runs
       set awaiting_slot = null,
           status = case when v_run.scheduled_time > edgeflow.now() then 'SCHEDULED' else 'PENDING' end
     where id = v_run.id;
    perform edgeflow._start_ready_steps(v_run.id);
    v_admitted := v_admitted + 1;
  end loop;
  return v_admitted;
end
$function$;

-- from sql/functions/edgeflow._resurrect.sql
-- Lazarus: resume a crashed run from its unfinished steps. Ended tasks of
-- those steps are queued again with fresh attempts; tasks still running keep
-- their lease (their worker may yet report); steps that never started wait
-- for their dependencies as before. A limited deployment must have a free
-- slot, and one of per-key `concurrency` a free slot of each key (the crash
-- gave them back), else the run stays due and the next sweep tries again.
-- Steps with per-key `concurrency` start over, taking their key slots.
CREATE OR REPLACE FUNCTION edgeflow._resurrect(p_run_id uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
  s record;
  v_key text;
  v_limit integer;
  v_task uuid;
begin
  select id, status, deployment_id, lazarus_due into r
    from edgeflow.runs where id = p_run_id for update;
  if not found or r.status <> 'CRASHED' or not r.lazarus_due then
    return 'skipped';
  end if;
  select concurrency_limit into v_limit from edgeflow.deployments where id = r.deployment_id;
  if v_limit is not null then
    v_key := 'deployment:' || r.deployment_id;
    perform edgeflow._slot_lock(v_key);
    if edgeflow._slots_held(v_key) >= v_limit then
      return 'waiting';
    end if;
    insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
    values (v_key, r.id, r.id, edgeflow.now());
  end if;
  -- And its per-key slots (issue 16): the crash gave them back, maybe to the next run of its key.
  if not edgeflow._take_run_key_slots(p_run_id) then
    delete from edgeflow.slots where run_id = p_run_id;
    return 'waiting';
  end if;

  for s in
    select ss.slug from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.status <> 'COMPLETED' order by ss.step_index
  loop
    -- A step with per-key `concurrency` starts over too: starting it takes its key slots again.
    if exists (select 1 from edgeflow.runs ru
                 join edgeflow.flow_steps fs on fs.flow_version_id = ru.flow_version_id
                where ru.id = p_run_id and fs.slug = s.slug and fs.concurrency is not null) then
      delete from edgeflow.tasks
       where run_id = p_run_id and slug = s.slug and status <> 'RUNNING';
    end if;
    if not exists (select 1 from edgeflow.tasks where run_id = p_run_id and slug = s.slug) then
      update edgeflow.step_states
         set status = 'PENDING', error = null, ended_at = null, holds_key_slots = false
       where run_id = p_run_id and slug = s.slug;
      continue;
    end if;
    for v_task in
      select id from edgeflow.tasks
       where run_id = p_run_id and slug = s.slug and status in ('QUEUED', 'FAILED', 'CANCELLED')
       order by task_index for update
    loop
      update edgeflow.tasks
         set status = 'QUEUED', attempts = 0, lease = null, lease_expires_at = null,
             ended_at = null, available_at = edgeflow.now()
       where id = v_task;
      perform edgeflow._requeue(v_task, edgeflow.now());
    end loop;
    update edgeflow.step_states ss
       set status = case when exists (select 1 from edgeflow.tasks t where t.run_id = p_run_id
                                         and t.slug = s.slug and t.status = 'RUNNING')
                         then 'RUNNING' else 'QUEUED' end,
           remaining_tasks = (select count(*) from edgeflow.tasks t where t.run_id = p_run_id
                                and t.slug = s.slug and t.status <> 'COMPLETED'),
           error = null, ended_at = null
     where ss.run_id = p_run_id and ss.slug = s.slug;
  end loop;

  update edgeflow.runs
     set status = case when exists (select 1 from edgeflow.tasks t
                                     where t.run_id = p_run_id and t.status = 'RUNNING')
                       then 'RUNNING' else 'PENDING' end,
         error = null, output = null, ended_at = null, lazarus_due = false,
         resurrections = resurrections + 1
   where id = p_run_id;
  perform edgeflow._start_ready_steps(p_run_id);
  return 'resurrected';
end
$function$;

-- from sql/functions/edgeflow.fire_schedule_at.sql
-- A QStash delivery for one fire time: create its run once. The delivery is
-- recorded under its message id in the same transaction, so a redelivery
-- returns the first answer and creates nothing; the run's (schedule, time)
-- key covers a fire time that reaches us twice under different messages.
CREATE OR REPLACE FUNCTION edgeflow.fire_schedule_at(p_id uuid, p_time timestamp with time zone, p_message_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  s record;
  v_result jsonb;
begin
  if p_message_id is not null then
    insert into edgeflow.qstash_deliveries (message_id, schedule_id, scheduled_time, received_at)
    values (p_message_id, p_id, p_time, edgeflow.now()) on conflict do nothing;
    if not found then
      select result into v_result from edgeflow.qstash_deliveries
       where message_id = p_message_id;
      return coalesce(v_result, '{}') || jsonb_build_object('duplicate', true, 'created', 0);
    end if;
  end if;
  select sc.active, sc.deployment_paused into s from edgeflow.schedules sc where sc.id = p_id;
  if not found then
    v_result := jsonb_build_object('created', 0, 'skipped', 'no such schedule');
  elsif not s.active or s.deployment_paused then
    v_result := jsonb_build_object('created', 0, 'skipped', 'the schedule is paused');
  else
    v_result := edgeflow._start_scheduled_runs(p_id, array[p_time]);
    if v_result ? 'error' then
      update edgeflow.schedules set last_error = v_result -> 'error' where id = p_id;
    end if;
  end if;
  if p_message_id is not null then
    update edgeflow.qstash_deliveries set result = v_result where message_id = p_message_id;
  end if;
  return v_result || jsonb_build_object('duplicate', false);
end
$function$;

-- from sql/functions/edgeflow.retry_run.sql
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
