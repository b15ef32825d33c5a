-- Leases (heartbeats), the sweep of expired leases, and cancellation.

-- A lease ran out on the task's last attempt: the step fails and the run is
-- CRASHED (nothing is left that could finish it).
create function edgeflow._expire_final(p_task_id uuid)
returns void language plpgsql set search_path = '' as $$
declare
  t record;
  v_error jsonb;
begin
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  v_error := jsonb_build_object(
    'message', format('lease expired on attempt %s of %s: the worker stopped heartbeating',
                      t.attempts, t.max_attempts),
    'crashed', true);
  perform pgmq.archive(t.queue_name, t.msg_id);
  update edgeflow.tasks set status = 'FAILED', error = v_error, lease = null,
                            lease_expires_at = null, ended_at = now()
   where id = p_task_id;
  update edgeflow.step_states set status = 'FAILED', error = v_error, ended_at = now()
   where run_id = t.run_id and slug = t.slug;
  perform edgeflow._finish_run(t.run_id, 'CRASHED', jsonb_build_object('step', t.slug) || v_error);
end
$$;

-- One expired lease: count the crashed attempt and queue the task again when
-- attempts remain. Same lock order as complete/fail.
create function edgeflow._expire_task(p_task_id uuid)
returns text language plpgsql set search_path = '' as $$
declare
  v_run_id uuid;
  r record;
  t record;
begin
  select run_id into v_run_id from edgeflow.tasks where id = p_task_id;
  select id, status into r from edgeflow.runs where id = v_run_id for update;
  select id, status, attempts, max_attempts, lease_expires_at, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id for update skip locked;
  if t.id is null or t.status <> 'RUNNING' or t.lease_expires_at >= now() then
    return 'skipped';
  end if;
  if r.status not in ('RUNNING', 'PENDING') then
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return 'cancelled';
  end if;
  if t.attempts >= t.max_attempts then
    perform edgeflow._expire_final(p_task_id);
    return 'failed';
  end if;
  update edgeflow.tasks
     set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = now(),
         error = jsonb_build_object('message', format(
           'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
           'crashed', true)
   where id = p_task_id;
  perform edgeflow._requeue(p_task_id, now());
  return 'requeued';
end
$$;

-- Sweep expired leases, oldest first, through the partial index on
-- lease_expires_at: the cost follows the number of expired leases.
create function edgeflow.sweep_expired(p_limit integer default 1000)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_id uuid;
  v_result text;
  v_counts jsonb := '{"requeued":0,"failed":0,"cancelled":0}';
begin
  for v_id in
    select id from edgeflow.tasks
     where status = 'RUNNING' and lease_expires_at < now()
     order by lease_expires_at limit p_limit
  loop
    v_result := edgeflow._expire_task(v_id);
    if v_result <> 'skipped' then
      v_counts := jsonb_set(v_counts, array[v_result], to_jsonb((v_counts ->> v_result)::int + 1));
    end if;
  end loop;
  return v_counts || jsonb_build_object(
    'swept', (v_counts ->> 'requeued')::int + (v_counts ->> 'failed')::int
             + (v_counts ->> 'cancelled')::int);
end
$$;

-- Extend the leases a worker still holds. Returns the tasks whose lease is
-- no longer the worker's (`lost`) and those of runs being cancelled
-- (`cancel`). A lease is extended only once less than half of it is left,
-- which halves the writes of a steady heartbeat.
create function edgeflow.extend_leases(p_running jsonb)
returns jsonb language plpgsql set search_path = '' as $$
declare
  i record;
  v_lost jsonb := '[]';
  v_cancel jsonb := '[]';
  v_extended integer := 0;
begin
  for i in
    select e.task, e.lease, t.status, t.lease = e.lease as current, t.lease_expires_at,
           t.queue_name, t.msg_id, r.status as run_status, fs.timeout
      from jsonb_to_recordset(coalesce(p_running, '[]')) as e(task uuid, lease uuid)
      left join edgeflow.tasks t on t.id = e.task
      left join edgeflow.runs r on r.id = t.run_id
      left join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id
                                       and fs.slug = t.slug
  loop
    if i.status is distinct from 'RUNNING' or not coalesce(i.current, false) then
      v_lost := v_lost || to_jsonb(i.task::text);
    elsif i.run_status not in ('RUNNING', 'PENDING') then
      v_cancel := v_cancel || to_jsonb(i.task::text);
    elsif i.lease_expires_at is not null
          and i.lease_expires_at < now() + make_interval(secs => i.timeout / 2.0) then
      update edgeflow.tasks set lease_expires_at = now() + make_interval(secs => i.timeout)
       where id = i.task and lease = i.lease and status = 'RUNNING';
      if found then
        perform pgmq.set_vt(i.queue_name, i.msg_id, i.timeout);
        v_extended := v_extended + 1;
      else
        v_lost := v_lost || to_jsonb(i.task::text);
      end if;
    end if;
  end loop;
  return jsonb_build_object('lost', v_lost, 'cancel', v_cancel, 'extended', v_extended);
end
$$;

-- The worker protocol in one statement: liveness, leases, and new work.
create function edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb,
                                   p_capacity integer, p_running jsonb,
                                   p_heartbeat_seconds integer)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_leases jsonb;
begin
  -- A heartbeat's writes need not wait for the WAL flush: liveness is
  -- refreshed every few seconds, a lost lease extension only lets a lease
  -- expire early, and a claim the database forgets after a crash is refused
  -- at completion by fencing and run again. At-least-once holds either way,
  -- and the commit no longer waits on the disk (the bench: 2.5x heartbeats/s).
  perform set_config('synchronous_commit', 'off', true);
  insert into edgeflow.workers (name, pool, handlers, capacity, heartbeat_seconds)
  values (p_worker, p_pool,
          case when jsonb_typeof(p_handlers) = 'array'
               then array(select jsonb_array_elements_text(p_handlers)) end,
          coalesce(p_capacity, 0), p_heartbeat_seconds)
  on conflict (name) do update
     set pool = excluded.pool, handlers = excluded.handlers, capacity = excluded.capacity,
         heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = now();
  v_leases := edgeflow.extend_leases(p_running);
  return v_leases || jsonb_build_object(
    'tasks', edgeflow.claim_tasks(p_pool, p_handlers, p_capacity, p_worker));
end
$$;

-- Cancel a run: queued work is removed at once; running tasks are told on
-- their next heartbeat, and the run is CANCELLING until they have ended.
create function edgeflow.cancel_run(p_run_id uuid)
returns jsonb language plpgsql set search_path = '' as $$
declare
  r record;
begin
  select id, status into r from edgeflow.runs where id = p_run_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    return jsonb_build_object('run_id', p_run_id, 'status', r.status, 'changed', false);
  end if;
  if exists (select 1 from edgeflow.tasks where run_id = p_run_id and status = 'RUNNING') then
    update edgeflow.runs set status = 'CANCELLING' where id = p_run_id;
    update edgeflow.step_states set status = 'CANCELLED', ended_at = now()
     where run_id = p_run_id and status in ('PENDING', 'QUEUED');
    perform edgeflow._cancel_queued_tasks(p_run_id);
  else
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
  return jsonb_build_object('run_id', p_run_id, 'changed', true,
    'status', (select status from edgeflow.runs where id = p_run_id));
end
$$;
