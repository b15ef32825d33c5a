-- The hot path: claim, complete, fail. One statement from the client each.
--
-- Locking, and why: complete, fail, cancel and the sweep lock the run row
-- first, so every transition of one run is serialised by one lock and they
-- cannot deadlock among themselves. A claim reads messages through pgmq
-- (`for update skip locked` inside `read`), then takes each task row with
-- `skip locked` and never locks the run unless it must move it out of
-- PENDING. A task row that is locked belongs to a transition in flight: the
-- claim leaves it, and the lease sweep is the safety net.

-- plpgsql, not sql: a SQL-language function with a SET clause is planned
-- anew on every call (0.8 ms here, the most expensive part of a claim);
-- plpgsql keeps the plan for the session.
create function edgeflow._task_json(p_task_id uuid)
returns jsonb language plpgsql stable set search_path = '' as $$
begin
  return (select jsonb_build_object(
    'task', t.id, 'lease', t.lease, 'run_id', t.run_id, 'flow', r.flow_name,
    'step', t.slug, 'handler', fs.handler, 'attempt', t.attempts,
    'max_attempts', t.max_attempts, 'task_index', t.task_index,
    'lease_expires_at', edgeflow.iso(t.lease_expires_at),
    'input', jsonb_build_object(
      'run', r.parameters,
      'deps', coalesce((select jsonb_object_agg(d.slug, d.output) from edgeflow.step_states d
                         where d.run_id = t.run_id and d.slug = any(fs.depends_on)), '{}'),
      'args', fs.args)
      || case when fs.map_from is null then '{}'::jsonb
              else jsonb_build_object('item', t.item) end)
    from edgeflow.tasks t
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
   where t.id = p_task_id);
end
$$;

-- Claim up to p_qty tasks of a pool for the given handlers (null: any).
-- Each claimed task gets a fresh lease token and a lease as long as its
-- step's timeout; the attempt is counted here.
create function edgeflow.claim_tasks(p_pool text, p_handlers jsonb, p_qty integer,
                                     p_worker text default null)
returns jsonb language plpgsql set search_path = '' as $$
declare
  hq record;
  m record;
  t record;
  v_run record;
  v_timeout integer;
  v_left integer := greatest(coalesce(p_qty, 0), 0);
  v_out jsonb := '[]';
begin
  if v_left = 0 or exists (select 1 from edgeflow.pools where name = p_pool and paused) then
    return v_out;
  end if;
  for hq in
    select h.queue_name, h.vt_seconds from edgeflow.handler_queues h
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where h.pool = p_pool and not q.paused
       and (p_handlers is null or jsonb_typeof(p_handlers) <> 'array'
            or p_handlers ? h.handler)
     order by q.priority desc, random()
  loop
    exit when v_left <= 0;
    for m in select * from pgmq.read(hq.queue_name, hq.vt_seconds, v_left) loop
      select tk.id, tk.run_id, tk.slug, tk.status, tk.attempts, tk.max_attempts, tk.queue_name,
             tk.msg_id
        into t from edgeflow.tasks tk
       where tk.id = (m.message ->> 'task')::uuid
         for update skip locked;
      if not found then
        -- Locked by a transition in flight, or a message with no task.
        if not exists (select 1 from edgeflow.tasks where id = (m.message ->> 'task')::uuid) then
          perform pgmq.delete(hq.queue_name, m.msg_id);
        end if;
        continue;
      end if;
      if t.status not in ('QUEUED', 'RUNNING') or t.msg_id is distinct from m.msg_id then
        perform pgmq.delete(hq.queue_name, m.msg_id);
        continue;
      end if;
      select r.id, r.status, r.flow_version_id, r.heartbeat into v_run
        from edgeflow.runs r where r.id = t.run_id;
      if v_run.status not in ('PENDING', 'SCHEDULED', 'RUNNING') then
        perform pgmq.delete(hq.queue_name, m.msg_id);
        update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                                  ended_at = now() where id = t.id;
        continue;
      end if;
      if t.status = 'RUNNING' and t.attempts >= t.max_attempts then
        -- Its lease ran out on the last attempt before the sweep saw it.
        perform pgmq.archive(hq.queue_name, m.msg_id);
        perform edgeflow._expire_final(t.id);
        continue;
      end if;

      select fs.timeout into v_timeout from edgeflow.flow_steps fs
       where fs.flow_version_id = v_run.flow_version_id and fs.slug = t.slug;
      if not v_run.heartbeat then
        -- Flow opted out of heartbeats: the lease never expires.
        perform pgmq.set_vt(hq.queue_name, m.msg_id, 315360000);
      elsif v_timeout <> hq.vt_seconds then
        perform pgmq.set_vt(hq.queue_name, m.msg_id, v_timeout);
      end if;
      update edgeflow.tasks
         set status = 'RUNNING', attempts = attempts + 1, lease = gen_random_uuid(),
             lease_expires_at = case when v_run.heartbeat
                                     then now() + make_interval(secs => v_timeout) end,
             worker = p_worker, started_at = coalesce(started_at, now())
       where id = t.id;
      if v_run.status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, now())
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = now()
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      v_out := v_out || jsonb_build_array(edgeflow._task_json(t.id));
      v_left := v_left - 1;
    end loop;
  end loop;
  return v_out;
end
$$;

-- Lock the run, then the task (skip locked: a locked task is in another
-- transition, so this lease cannot be current any more). Returns null when
-- the caller may go on, else the refusal to return.
create function edgeflow._lock_for_result(p_task_id uuid, p_lease uuid)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_run_id uuid;
  r record;
  t record;
begin
  select run_id into v_run_id from edgeflow.tasks where id = p_task_id;
  if v_run_id is null then
    return jsonb_build_object('error', 'not_found');
  end if;
  select id, status, version_lock into r from edgeflow.runs where id = v_run_id for update;
  select id, status, lease, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id for update skip locked;
  if t.id is null
     or not (t.status = 'RUNNING' and t.lease = p_lease
             or not r.version_lock and t.status in ('RUNNING', 'QUEUED')) then
    return jsonb_build_object('error', 'stale_lease', 'status', t.status);
  end if;
  if r.status not in ('RUNNING', 'PENDING') then
    -- A cancelled or failed run refuses late results; its task ends here.
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return jsonb_build_object('error', 'run_not_running', 'status', r.status);
  end if;
  return null;
end
$$;

-- A CANCELLING run whose last running task has ended becomes CANCELLED.
create function edgeflow._settle_cancelling(p_run_id uuid)
returns void language plpgsql set search_path = '' as $$
begin
  if exists (select 1 from edgeflow.runs where id = p_run_id and status = 'CANCELLING')
     and not exists (select 1 from edgeflow.tasks where run_id = p_run_id and status = 'RUNNING')
  then
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
end
$$;

create function edgeflow.complete_task(p_task_id uuid, p_lease uuid, p_output jsonb)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  t record;
  r record;
  v_step record;
  v_output jsonb;
  v_ready text[];
begin
  if v_problem is not null then
    return v_problem;
  end if;
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  select id, flow_version_id into r from edgeflow.runs where id = t.run_id;
  perform pgmq.delete(t.queue_name, t.msg_id);
  update edgeflow.tasks
     set status = 'COMPLETED', output = p_output, lease = null, lease_expires_at = null,
         ended_at = now()
   where id = p_task_id;
  update edgeflow.step_states set remaining_tasks = remaining_tasks - 1
   where run_id = r.id and slug = t.slug
  returning remaining_tasks, total_tasks into v_step;
  if v_step.remaining_tasks = 0 then
    if exists (select 1 from edgeflow.flow_steps where flow_version_id = r.flow_version_id
                  and slug = t.slug and map_from is not null) then
      select coalesce(jsonb_agg(output order by task_index), '[]') into v_output
        from edgeflow.tasks where run_id = r.id and slug = t.slug;
    else
      v_output := p_output;
    end if;
    update edgeflow.step_states set status = 'COMPLETED', output = v_output, ended_at = now()
     where run_id = r.id and slug = t.slug;
    v_ready := edgeflow._step_done(r.id, r.flow_version_id, t.slug);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(r.id, v_ready);
    end if;
  end if;
  return jsonb_build_object('ok', true, 'task', p_task_id,
    'run_status', (select status from edgeflow.runs where id = r.id));
end
$$;

-- Fail an attempt: retry after base_delay * 2^(attempt-1) seconds while
-- attempts remain (the message stays invisible until then), else fail the
-- step and the run.
create function edgeflow.fail_task(p_task_id uuid, p_lease uuid, p_error jsonb,
                                   p_retryable boolean default true)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  t record;
  r record;
  v_delay double precision;
  v_retry_at timestamptz;
begin
  if v_problem is not null then
    return v_problem;
  end if;
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  select id, flow_version_id into r from edgeflow.runs where id = t.run_id;
  if coalesce(p_retryable, true) and t.attempts < t.max_attempts then
    select fs.base_delay * power(2, greatest(t.attempts, 1) - 1) into v_delay
      from edgeflow.flow_steps fs
     where fs.flow_version_id = r.flow_version_id and fs.slug = t.slug;
    v_retry_at := now() + make_interval(secs => v_delay);
    update edgeflow.tasks
       set status = 'QUEUED', error = p_error, lease = null, lease_expires_at = null,
           available_at = v_retry_at
     where id = p_task_id;
    perform edgeflow._requeue(p_task_id, v_retry_at);
    return jsonb_build_object('ok', true, 'task', p_task_id, 'retry_at', edgeflow.iso(v_retry_at),
                              'attempt', t.attempts);
  end if;
  perform pgmq.archive(t.queue_name, t.msg_id);
  update edgeflow.tasks
     set status = 'FAILED', error = p_error, lease = null, lease_expires_at = null,
         ended_at = now()
   where id = p_task_id;
  perform edgeflow._fail_run(r.id, t.slug, p_error);
  return jsonb_build_object('ok', true, 'task', p_task_id, 'retry_at', null,
                            'run_status', 'FAILED');
end
$$;

-- Make a task's message visible at `p_at`; re-send it if it is gone.
create function edgeflow._requeue(p_task_id uuid, p_at timestamptz)
returns void language plpgsql set search_path = '' as $$
declare
  t record;
begin
  select id, run_id, queue_name, msg_id into t from edgeflow.tasks where id = p_task_id;
  if not exists (select 1 from pgmq.set_vt(t.queue_name, t.msg_id, edgeflow.delay_seconds(p_at)))
  then
    update edgeflow.tasks
       set msg_id = (select pgmq.send(t.queue_name,
                                      jsonb_build_object('task', t.id, 'run', t.run_id),
                                      edgeflow.delay_seconds(p_at)))
     where id = p_task_id;
  end if;
end
$$;
