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
