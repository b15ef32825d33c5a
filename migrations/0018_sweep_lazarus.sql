-- The zombie sweep, complete: expired leases (0007), then the runs they may
-- have left behind. One call, one transaction, bounded work per pass:
--
-- 1. expired leases: re-queued while attempts remain, else the step fails
--    and the run is CRASHED. The common case (re-queue) is one statement
--    over the whole batch; the rare ones go through 0007's _expire_task;
-- 2. CANCELLING runs whose last running task is gone become CANCELLED (a
--    claim that cancels a task of such a run does not lock the run, so it
--    cannot settle it itself);
-- 3. RUNNING runs with no queued or running task, no child run in progress
--    and steps left are CRASHED. Checked round-robin, 100 runs per pass,
--    through runs_status_newest: a bounded cost, and every run is looked at
--    within (active runs / 100) ticks;
-- 4. Lazarus: crashed runs of flows with `lazarus: true` resume from their
--    unfinished steps, at most 3 times per run (marked by 0015's trigger);
-- 5. waiting runs of deployments with free slots are admitted (a safety net:
--    slots are normally handed over by the transaction that frees them).

-- Where the round-robin check of idle runs stopped: (created_at, id).
create table edgeflow.sweep_cursor (
  id boolean primary key default true check (id),
  created_at timestamptz,
  run_id uuid
);
insert into edgeflow.sweep_cursor (id) values (true);

-- A run's live work, found without reading its finished tasks (a map step
-- may have thousands): the idle check and cancellation read this.
create index tasks_live on edgeflow.tasks (run_id) where status in ('QUEUED', 'RUNNING');

-- Expire up to `p_limit` leases, oldest first. Why one statement for the
-- batch and not 0007's loop: per task, the loop cost ~300 µs (five
-- statements, two locks, a pgmq call), so a tick over 1,000 expired leases
-- took ~0.5 s; the set-based update is bounded by the row writes. The
-- lock order of 0006 holds: the batch's runs first (in id order, so two
-- sweeps cannot deadlock), then its tasks with skip locked.
--
-- The message is not touched: a lease and its message's visibility timeout
-- are set together (claim, extend_leases), so when the lease has expired the
-- message is already visible. Only a message that is missing (a purged
-- queue) or still invisible is repaired, found with one query per queue.
create function edgeflow._expire_leases(p_limit integer)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_ids uuid[];
  v_runs uuid[];
  v_done uuid[];
  v_queue text;
  v_queues text[];
  v_msgs bigint[];
  v_fix uuid[];
  v_id uuid;
  v_result text;
  v_counts jsonb := '{"requeued":0,"failed":0,"cancelled":0}';
begin
  select array_agg(e.id), array_agg(distinct e.run_id) into v_ids, v_runs
    from (select id, run_id from edgeflow.tasks
           where status = 'RUNNING' and lease_expires_at < now()
           order by lease_expires_at limit p_limit) e;
  if v_ids is null then
    return v_counts;
  end if;
  perform 1 from edgeflow.runs where id = any(v_runs) order by id for update;

  with locked as (
    select t.id from edgeflow.tasks t
      join edgeflow.runs r on r.id = t.run_id
     where t.id = any(v_ids) and t.status = 'RUNNING' and t.lease_expires_at < now()
       and t.attempts < t.max_attempts and r.status in ('RUNNING', 'PENDING')
       for update of t skip locked
  ), requeued as (
    update edgeflow.tasks t
       set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = now(),
           error = jsonb_build_object('message', format(
             'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
             'crashed', true)
      from locked where t.id = locked.id
    returning t.id, t.queue_name, t.msg_id
  )
  select coalesce(array_agg(id), '{}'), coalesce(array_agg(queue_name), '{}'),
         coalesce(array_agg(msg_id), '{}')
    into v_done, v_queues, v_msgs
    from requeued;

  for v_queue in select distinct q from unnest(v_queues) as q loop
    -- Tasks whose message is gone or not yet visible (identifiers: pgmq's own naming).
    execute format(
      'select coalesce(array_agg(x.id), ''{}'') from unnest($1, $2, $3) as x(q, msg, id)
        where x.q = $4 and not exists (select 1 from pgmq.%I m
                                        where m.msg_id = x.msg and m.vt <= clock_timestamp())',
      pgmq.format_table_name(v_queue, 'q'))
      into v_fix using v_queues, v_msgs, v_done, v_queue;
    foreach v_id in array v_fix loop
      perform edgeflow._requeue(v_id, now());
    end loop;
  end loop;
  v_counts := jsonb_build_object('requeued', cardinality(v_done), 'failed', 0, 'cancelled', 0);

  -- The rest: last attempts, runs no longer running, tasks taken meanwhile.
  for v_id in select unnest(v_ids) except select unnest(v_done) loop
    v_result := edgeflow._expire_task(v_id);
    if v_result <> 'skipped' then
      v_counts := jsonb_set(v_counts, array[v_result], to_jsonb((v_counts ->> v_result)::int + 1));
    end if;
  end loop;
  return v_counts;
end
$$;

-- Crash a RUNNING run that has nothing left that could finish it. Locks the
-- run first (the lock order of 0006), then looks again.
create function edgeflow._crash_if_idle(p_run_id uuid)
returns boolean language plpgsql set search_path = '' as $$
begin
  perform 1 from edgeflow.runs where id = p_run_id for update;
  if not exists (
       select 1 from edgeflow.runs r
        where r.id = p_run_id and r.status = 'RUNNING' and r.awaiting_slot is null
          and r.remaining_steps > 0
          and not exists (select 1 from edgeflow.tasks t
                           where t.run_id = r.id and t.status in ('QUEUED', 'RUNNING'))
          and not exists (select 1 from edgeflow.tasks t
                            join edgeflow.runs c on c.parent_task_id = t.id
                           where t.run_id = r.id
                             and c.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')))
  then
    return false;
  end if;
  perform edgeflow._finish_run(p_run_id, 'CRASHED', jsonb_build_object(
    'message', 'the run had no queued or running task left to finish it', 'crashed', true));
  return true;
end
$$;

-- Lazarus: resume a crashed run from its unfinished steps. Ended tasks of
-- those steps are queued again with fresh attempts; tasks still running keep
-- their lease (their worker may yet report); steps that never started wait
-- for their dependencies as before. A limited deployment must have a free
-- slot, else the run stays due and the next sweep tries again.
create function edgeflow._resurrect(p_run_id uuid)
returns text language plpgsql set search_path = '' as $$
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
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, r.id, r.id);
  end if;

  for s in
    select ss.slug from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.status <> 'COMPLETED' order by ss.step_index
  loop
    if not exists (select 1 from edgeflow.tasks where run_id = p_run_id and slug = s.slug) then
      update edgeflow.step_states set status = 'PENDING', error = null, ended_at = null
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
             ended_at = null, available_at = now()
       where id = v_task;
      perform edgeflow._requeue(v_task, now());
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
$$;

-- The whole sweep with its full report. `p_limit` bounds the expired leases
-- handled per pass (oldest first); the run passes have their own bounds.
create function edgeflow.sweep(p_limit integer default 1000)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_id uuid;
  v_counts jsonb;
  v_settled integer := 0;
  v_crashed integer := 0;
  v_resurrected integer := 0;
  v_admitted integer := 0;
  v_cursor record;
  v_seen integer;
  v_at timestamptz;
  v_idle boolean;
begin
  v_counts := edgeflow._expire_leases(p_limit);

  for v_id in
    select r.id from edgeflow.runs r
     where r.status = 'CANCELLING'
       and not exists (select 1 from edgeflow.tasks t where t.run_id = r.id and t.status = 'RUNNING')
     order by r.created_at limit 100
       for update skip locked
  loop
    perform edgeflow._settle_cancelling(v_id);
    v_settled := v_settled + 1;
  end loop;

  -- Round robin over RUNNING runs, newest first, wrapping around at the
  -- end. A sweep racing this one skips the pass (skip locked).
  select created_at, run_id into v_cursor from edgeflow.sweep_cursor for update skip locked;
  if found then
    v_seen := 0;
    for v_at, v_id, v_idle in
      -- A probe of tasks_live per run, never a join over all tasks.
      select r.created_at, r.id, live.id is null
        from (select created_at, id from edgeflow.runs
               where status = 'RUNNING'
                 and (v_cursor.created_at is null
                      or (created_at, id) < (v_cursor.created_at, v_cursor.run_id))
               order by created_at desc, id desc limit 100) r
        left join lateral (select t.id from edgeflow.tasks t
                            where t.run_id = r.id and t.status in ('QUEUED', 'RUNNING')
                            limit 1) live on true
    loop
      v_seen := v_seen + 1;
      if v_idle and edgeflow._crash_if_idle(v_id) then
        v_crashed := v_crashed + 1;
      end if;
    end loop;
    update edgeflow.sweep_cursor
       set created_at = case when v_seen = 100 then v_at end,
           run_id = case when v_seen = 100 then v_id end
     where id;
  end if;

  for v_id in
    select id from edgeflow.runs where lazarus_due order by ended_at limit 100
  loop
    if edgeflow._resurrect(v_id) = 'resurrected' then
      v_resurrected := v_resurrected + 1;
    end if;
  end loop;

  for v_id in
    select distinct r.deployment_id from edgeflow.runs r
     where r.awaiting_slot is not null and r.deployment_id is not null
     limit 100
  loop
    v_admitted := v_admitted + edgeflow._admit_waiting(v_id);
  end loop;

  return v_counts || jsonb_build_object(
    'swept', (v_counts ->> 'requeued')::int + (v_counts ->> 'failed')::int
             + (v_counts ->> 'cancelled')::int,
    'settled', v_settled, 'crashed', v_crashed, 'resurrected', v_resurrected,
    'admitted', v_admitted);
end
$$;

-- The sweep the tick calls: all of it, reported in the keys it always had.
create or replace function edgeflow.sweep_expired(p_limit integer default 1000)
returns jsonb language sql set search_path = '' as $$
  select jsonb_build_object('swept', s -> 'swept', 'requeued', s -> 'requeued',
                            'failed', s -> 'failed', 'cancelled', s -> 'cancelled')
    from edgeflow.sweep(p_limit) as s;
$$;
