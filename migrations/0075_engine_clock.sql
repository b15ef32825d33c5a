-- engine_clock: written by `deno task sql:migration` from what changed in sql/.

create table edgeflow.clock (
  id boolean default true not null,
  shift interval default '00:00:00'::interval not null,
  constraint clock_pkey PRIMARY KEY (id),
  constraint clock_id_check CHECK (id)
);

-- from sql/functions/edgeflow.now.sql
-- The engine's one clock: every time the engine reads, writes or compares goes
-- through here. It is the transaction's now() (so a transition stamps one
-- time) plus the shift tests set with edgeflow.advance_clock. No SET clause and
-- stable: the planner inlines it, so a query reads the shift once.
CREATE OR REPLACE FUNCTION edgeflow.now()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
  select pg_catalog.now() + coalesce((select c.shift from edgeflow.clock c), interval '0');
$function$;

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
      insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, v_run.id, v_run.id);
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

-- from sql/functions/edgeflow._cancel_queued_tasks.sql
-- Remove a run's queued tasks and their messages. Tasks are taken with
-- `skip locked`: one locked by a claimer in flight is cancelled by that
-- claimer when it sees the run's state, or later by the sweep.
CREATE OR REPLACE FUNCTION edgeflow._cancel_queued_tasks(p_run_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select id, queue_name, msg_id from edgeflow.tasks
     where run_id = p_run_id and status = 'QUEUED'
       for update skip locked
  loop
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', ended_at = edgeflow.now() where id = t.id;
  end loop;
end
$function$;

-- from sql/functions/edgeflow._finish_run.sql
-- The run is over: finish it with `p_status`, cancel whatever has not finished.
CREATE OR REPLACE FUNCTION edgeflow._finish_run(p_run_id uuid, p_status text, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.runs
     set status = p_status, error = coalesce(p_error, error), ended_at = edgeflow.now()
   where id = p_run_id;
  update edgeflow.step_states
     set status = 'CANCELLED', ended_at = edgeflow.now()
   where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'RUNNING');
  perform edgeflow._cancel_queued_tasks(p_run_id);
end
$function$;

-- from sql/functions/edgeflow._expire_final.sql
-- A lease ran out on the task's last attempt: the step fails and the run is
-- CRASHED (nothing is left that could finish it).
CREATE OR REPLACE FUNCTION edgeflow._expire_final(p_task_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
                            lease_expires_at = null, ended_at = edgeflow.now()
   where id = p_task_id;
  update edgeflow.step_states set status = 'FAILED', error = v_error, ended_at = edgeflow.now()
   where run_id = t.run_id and slug = t.slug;
  perform edgeflow._finish_run(t.run_id, 'CRASHED', jsonb_build_object('step', t.slug) || v_error);
end
$function$;

-- from sql/functions/edgeflow._expire_task.sql
-- One expired lease: count the crashed attempt and queue the task again when
-- attempts remain. Same lock order as complete/fail.
CREATE OR REPLACE FUNCTION edgeflow._expire_task(p_task_id uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_run_id uuid;
  r record;
  t record;
begin
  select run_id into v_run_id from edgeflow.tasks where id = p_task_id;
  select id, status into r from edgeflow.runs where id = v_run_id for update;
  select id, status, attempts, max_attempts, lease_expires_at, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id for update skip locked;
  if t.id is null or t.status <> 'RUNNING' or t.lease_expires_at >= edgeflow.now() then
    return 'skipped';
  end if;
  if r.status not in ('RUNNING', 'PENDING') then
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                              ended_at = edgeflow.now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return 'cancelled';
  end if;
  if t.attempts >= t.max_attempts then
    perform edgeflow._expire_final(p_task_id);
    return 'failed';
  end if;
  update edgeflow.tasks
     set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
         error = jsonb_build_object('message', format(
           'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
           'crashed', true)
   where id = p_task_id;
  perform edgeflow._requeue(p_task_id, edgeflow.now());
  return 'requeued';
end
$function$;

-- from sql/functions/edgeflow._expire_leases.sql
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
CREATE OR REPLACE FUNCTION edgeflow._expire_leases(p_limit integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
           where status = 'RUNNING' and lease_expires_at < edgeflow.now()
           order by lease_expires_at limit p_limit) e;
  if v_ids is null then
    return v_counts;
  end if;
  perform 1 from edgeflow.runs where id = any(v_runs) order by id for update;

  with locked as (
    select t.id from edgeflow.tasks t
      join edgeflow.runs r on r.id = t.run_id
     where t.id = any(v_ids) and t.status = 'RUNNING' and t.lease_expires_at < edgeflow.now()
       and t.attempts < t.max_attempts and r.status in ('RUNNING', 'PENDING')
       for update of t skip locked
  ), requeued as (
    update edgeflow.tasks t
       set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
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
      perform edgeflow._requeue(v_id, edgeflow.now());
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
$function$;

-- from sql/functions/edgeflow._fail_run.sql
-- A step failed for good: the step and the run fail with its error.
CREATE OR REPLACE FUNCTION edgeflow._fail_run(p_run_id uuid, p_slug text, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.step_states set status = 'FAILED', error = p_error, ended_at = edgeflow.now()
   where run_id = p_run_id and slug = p_slug;
  perform edgeflow._finish_run(p_run_id, 'FAILED',
                               jsonb_build_object('step', p_slug) || coalesce(p_error, '{}'));
end
$function$;

-- from sql/functions/edgeflow._handler_online.sql
CREATE OR REPLACE FUNCTION edgeflow._handler_online(p_pool text, p_handler text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select exists (
    select 1 from edgeflow.workers w
     where w.pool = p_pool
       and w.last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * w.heartbeat_seconds)
       and (w.handlers is null or p_handler = any(w.handlers)));
$function$;

-- from sql/functions/edgeflow._lock_for_result.sql
-- Lock the run, then the task (skip locked: a locked task is in another
-- transition, so this lease cannot be current any more). Returns null when
-- the caller may go on, else the refusal to return.
CREATE OR REPLACE FUNCTION edgeflow._lock_for_result(p_task_id uuid, p_lease uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
                              ended_at = edgeflow.now() where id = p_task_id;
    perform edgeflow._settle_cancelling(r.id);
    return jsonb_build_object('error', 'run_not_running', 'status', r.status);
  end if;
  return null;
end
$function$;

-- from sql/functions/edgeflow._resurrect.sql
-- Lazarus: resume a crashed run from its unfinished steps. Ended tasks of
-- those steps are queued again with fresh attempts; tasks still running keep
-- their lease (their worker may yet report); steps that never started wait
-- for their dependencies as before. A limited deployment must have a free
-- slot, else the run stays due and the next sweep tries again.
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

-- from sql/functions/edgeflow._step_done.sql
-- A step completed: count down its dependents and the run. Returns the
-- dependents that became ready, in declaration order. Completes the run with
-- the outputs of its leaf steps when this was the last step.
CREATE OR REPLACE FUNCTION edgeflow._step_done(p_run_id uuid, p_flow_version_id uuid, p_slug text)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_ready text[];
  v_remaining integer;
begin
  with dependents as (
    select unnest(fs.dependents) as slug from edgeflow.flow_steps fs
     where fs.flow_version_id = p_flow_version_id and fs.slug = p_slug
  ), counted as (
    update edgeflow.step_states ss set remaining_deps = ss.remaining_deps - 1
      from dependents d
     where ss.run_id = p_run_id and ss.slug = d.slug
    returning ss.slug, ss.remaining_deps, ss.step_index
  )
  select coalesce(array_agg(c.slug order by c.step_index) filter (where c.remaining_deps = 0),
                  '{}')
    into v_ready from counted c;

  update edgeflow.runs set remaining_steps = remaining_steps - 1
   where id = p_run_id returning remaining_steps into v_remaining;
  if v_remaining = 0 then
    update edgeflow.runs r
       set status = 'COMPLETED', ended_at = edgeflow.now(),
           output = (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                       from edgeflow.step_states ss
                       join edgeflow.flow_steps fs
                         on fs.flow_version_id = p_flow_version_id and fs.slug = ss.slug
                      where ss.run_id = p_run_id and cardinality(fs.dependents) = 0)
     where r.id = p_run_id;
  end if;
  return v_ready;
end
$function$;

-- from sql/functions/edgeflow.delay_seconds.sql
-- Seconds until `at` (on the engine's clock), rounded up: pgmq delays are whole
-- seconds on the real clock, so the clock's shift is taken off.
CREATE OR REPLACE FUNCTION edgeflow.delay_seconds(p_at timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return greatest(0, ceil(extract(epoch from p_at - clock_timestamp() - (edgeflow.now() - pg_catalog.now()))))::integer;
end
$function$;

-- from sql/functions/edgeflow._start_steps_unguarded.sql
CREATE OR REPLACE FUNCTION edgeflow._start_steps_unguarded(p_run_id uuid, p_slugs text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
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
begin
  select id, flow_version_id, pool, queue, scheduled_time into r
    from edgeflow.runs where id = p_run_id;
  while cardinality(v_work) > 0 loop
    v_slug := v_work[1];
    v_work := v_work[2:];
    select * into s from edgeflow.flow_steps
     where flow_version_id = r.flow_version_id and slug = v_slug;
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
             queued_at = edgeflow.now(), started_at = edgeflow.now(), ended_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      v_work := v_work || edgeflow._step_done(p_run_id, r.flow_version_id, v_slug);
      continue;
    end if;

    v_at := greatest(edgeflow.now() + make_interval(secs => s.start_delay),
                     coalesce(r.scheduled_time, '-infinity'));
    v_ids := array(select gen_random_uuid() from generate_series(1, v_n));

    if s.deployment is not null then
      insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                  queue_name, msg_id, available_at)
      select v_ids[i], p_run_id, v_slug, i - 1,
             case when s.map_from is null then null else v_items -> (i - 1) end,
             'QUEUED', s.max_attempts, 'ef_subflows', null, v_at
        from generate_series(1, v_n) as i;
      update edgeflow.step_states
         set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      if v_at > edgeflow.now() then
        v_msgs := array(
          select pgmq.send_batch(
            'ef_subflows',
            array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                    from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
            edgeflow.delay_seconds(v_at)));
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
      select pgmq.send_batch(
        v_queue,
        array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
        edgeflow.delay_seconds(v_at)));
    insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                queue_name, msg_id, available_at)
    select v_ids[i], p_run_id, v_slug, i - 1,
           case when s.map_from is null then null else v_items -> (i - 1) end,
           'QUEUED', s.max_attempts, v_queue, v_msgs[i], v_at
      from generate_series(1, v_n) as i;
    update edgeflow.step_states
       set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
     where run_id = p_run_id and slug = v_slug;
  end loop;
end
$function$;

-- from sql/functions/edgeflow._start_steps.sql
-- Start steps whose dependencies are complete: one task each, or one per
-- element for a map step. An empty map completes at once with [] and may make
-- further steps ready, hence the work list.
CREATE OR REPLACE FUNCTION edgeflow._start_steps(p_run_id uuid, p_slugs text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
begin
  select status, awaiting_slot into r from edgeflow.runs where id = p_run_id;
  if r.awaiting_slot is not null then
    return;
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    update edgeflow.step_states set status = 'CANCELLED', ended_at = edgeflow.now()
     where run_id = p_run_id and status = 'PENDING';
    return;
  end if;
  perform edgeflow._start_steps_unguarded(p_run_id, p_slugs);
end
$function$;

-- from sql/functions/edgeflow._subflow_refuse.sql
-- Fail a subflow task that could not start a child (bad deployment, missing
-- parameters): the step and the run fail, not retried, because the next
-- attempt would meet the same deployment and the same parameters.
CREATE OR REPLACE FUNCTION edgeflow._subflow_refuse(p_task_id uuid, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  select id, run_id, slug into t from edgeflow.tasks where id = p_task_id;
  update edgeflow.tasks
     set status = 'FAILED', attempts = attempts + 1, error = p_error, msg_id = null,
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, edgeflow.now()),
         ended_at = edgeflow.now()
   where id = p_task_id;
  perform edgeflow._fail_run(t.run_id, t.slug, p_error);
end
$function$;

-- from sql/functions/edgeflow.advance_clock.sql
-- Moves the engine's clock forward by p_seconds, for tests: what would have
-- happened in that time happens at once. pgmq's visibility times run on the
-- real clock, so every message of every queue is made visible that much
-- earlier too: a retry due in 30 s, a start delay or a lease's message behave as
-- if the time had passed. Returns the new edgeflow.now().
CREATE OR REPLACE FUNCTION edgeflow.advance_clock(p_seconds double precision)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  v_by interval := make_interval(secs => p_seconds);
begin
  if p_seconds is null or p_seconds < 0 then
    raise exception 'the clock only moves forward (got %)', p_seconds;
  end if;
  insert into edgeflow.clock as c (id, shift) values (true, v_by)
  on conflict (id) do update set shift = c.shift + v_by;
  for q in select m.queue_name from pgmq.meta m loop
    execute format('update pgmq.%I set vt = vt - $1', 'q_' || q.queue_name) using v_by;
  end loop;
  return edgeflow.now();
end
$function$;

-- from sql/functions/edgeflow.archive_flow_version.sql
CREATE OR REPLACE FUNCTION edgeflow.archive_flow_version(p_name text, p_version integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  update edgeflow.flow_versions
     set archived = true, archived_at = coalesce(archived_at, edgeflow.now())
   where flow_name = p_name and version = p_version
  returning id into v_id;
  if v_id is null then
    return jsonb_build_object('error', 'not_found');
  end if;
  return jsonb_build_object('id', v_id, 'name', p_name, 'version', p_version, 'archived', true);
end
$function$;

-- from sql/functions/edgeflow.cancel_run.sql
-- Cancel a run: queued work is removed at once; running tasks are told on
-- their next heartbeat, and the run is CANCELLING until they have ended.
CREATE OR REPLACE FUNCTION edgeflow.cancel_run(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    update edgeflow.step_states set status = 'CANCELLED', ended_at = edgeflow.now()
     where run_id = p_run_id and status in ('PENDING', 'QUEUED');
    perform edgeflow._cancel_queued_tasks(p_run_id);
  else
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
  return jsonb_build_object('run_id', p_run_id, 'changed', true,
    'status', (select status from edgeflow.runs where id = p_run_id));
end
$function$;

-- from sql/functions/edgeflow.claim_subflow_starts.sql
-- Claim up to p_limit due subflow tasks for the driver (their messages are
-- invisible to other drivers for 30 s): for each, what its child's
-- parameters are made of (the deployment's defaults, the step's args and
-- `parameters` template, the run's parameters, the dependencies' outputs,
-- the map element) and the child flow's schema, or the `error` that fails
-- the step without a child. Messages of tasks that moved on are deleted;
-- those not due yet are put back to their time.
CREATE OR REPLACE FUNCTION edgeflow.claim_subflow_starts(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  m record;
  t record;
  s record;
  d jsonb;
  v_out jsonb := '[]';
begin
  for m in select * from pgmq.read('ef_subflows', 30, p_limit) loop
    select tk.id, tk.run_id, tk.slug, tk.item, tk.status, tk.msg_id, tk.available_at,
           r.status as run_status, r.parameters as run_parameters, r.flow_version_id,
           v.definition as definition
      into t
      from edgeflow.tasks tk
      join edgeflow.runs r on r.id = tk.run_id
      join edgeflow.flow_versions v on v.id = r.flow_version_id
     where tk.id = (m.message ->> 'task')::uuid;
    if t.id is null or t.status <> 'QUEUED' or t.msg_id is distinct from m.msg_id then
      perform pgmq.delete('ef_subflows', m.msg_id);  -- stale: the task moved on
      continue;
    end if;
    if t.run_status not in ('PENDING', 'RUNNING') then
      -- Scheduled (its time not come) or over: the engine's own paths decide.
      perform pgmq.set_vt('ef_subflows', m.msg_id,
                          greatest(edgeflow.delay_seconds(t.available_at), 1));
      continue;
    end if;
    if t.available_at > edgeflow.now() then
      perform pgmq.set_vt('ef_subflows', m.msg_id, edgeflow.delay_seconds(t.available_at));
      continue;
    end if;
    select fs.deployment, fs.args, fs.map_from, fs.depends_on into s from edgeflow.flow_steps fs
     where fs.flow_version_id = t.flow_version_id and fs.slug = t.slug;
    d := edgeflow.deployment_target(s.deployment);
    v_out := v_out || jsonb_build_array(jsonb_build_object(
      'task', t.id, 'msg_id', m.msg_id, 'run_id', t.run_id, 'step', t.slug,
      'deployment', s.deployment, 'version_id', d -> 'version_id',
      'error', edgeflow._subflow_start_problem(t.run_id, t.slug, s.deployment, s.args, d),
      'schema', d -> 'schema', 'defaults', coalesce(d -> 'parameters', '{}'),
      'args', s.args, 'map', s.map_from is not null, 'item', t.item,
      'template', (select st -> 'parameters'
                     from jsonb_array_elements(t.definition -> 'steps') st
                    where st ->> 'slug' = t.slug),
      'run', t.run_parameters,
      'deps', coalesce((select jsonb_object_agg(ss.slug, ss.output)
                          from edgeflow.step_states ss
                         where ss.run_id = t.run_id and ss.slug = any(s.depends_on)), '{}')));
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow.claim_tasks.sql
-- Claim up to p_qty tasks of a pool for the given handlers (null: any).
-- Each claimed task gets a fresh lease token and a lease as long as its
-- step's timeout; the attempt is counted here.
CREATE OR REPLACE FUNCTION edgeflow.claim_tasks(p_pool text, p_handlers jsonb, p_qty integer, p_worker text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  hq record;
  m record;
  t record;
  v_run record;
  v_pool record;
  v_queue text;
  v_timeout integer;
  v_left integer := greatest(coalesce(p_qty, 0), 0);
  v_out jsonb := '[]';
  v_tags_limited boolean;
  v_keys text[];
  v_limits integer[];
  v_free boolean;
  v_busy boolean;
  i integer;
begin
  if v_left = 0 then
    return v_out;
  end if;
  -- A claim need not wait for the WAL flush: if a crash loses it, the worker's
  -- result under the forgotten lease is refused (fencing) and the task is
  -- claimed again. At-least-once holds; triggers and results stay durable.
  perform set_config('synchronous_commit', 'off', true);
  select paused, concurrency_limit into v_pool from edgeflow.pools where name = p_pool;
  if v_pool.paused then
    return v_out;
  end if;
  if v_pool.concurrency_limit is not null then
    perform edgeflow._slot_lock('pool:' || p_pool);
  end if;
  for v_queue in
    select q.name from edgeflow.pool_queues q
     where q.pool = p_pool and q.concurrency_limit is not null and not q.paused
     order by q.name
  loop
    perform edgeflow._slot_lock('queue:' || p_pool || '/' || v_queue);
  end loop;
  v_tags_limited := exists (select 1 from edgeflow.concurrency_limits);

  for hq in
    select h.queue_name, h.vt_seconds, q.name as queue, q.concurrency_limit as queue_limit
      from edgeflow.handler_queues h
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where h.pool = p_pool and not q.paused
       and (p_handlers is null or jsonb_typeof(p_handlers) <> 'array'
            or p_handlers ? h.handler)
     order by q.priority desc, random()
  loop
    exit when v_left <= 0;
    for m in select * from pgmq.read(hq.queue_name, hq.vt_seconds, v_left) loop
      select tk.id, tk.run_id, tk.slug, tk.status, tk.attempts, tk.max_attempts, tk.queue_name,
             tk.msg_id, tk.holds_slots
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
      select r.id, r.status, r.flow_version_id, r.heartbeat, r.tags into v_run
        from edgeflow.runs r where r.id = t.run_id;
      if v_run.status not in ('PENDING', 'SCHEDULED', 'RUNNING') then
        perform pgmq.delete(hq.queue_name, m.msg_id);
        update edgeflow.tasks set status = 'CANCELLED', lease = null, lease_expires_at = null,
                                  ended_at = edgeflow.now() where id = t.id;
        continue;
      end if;
      if t.status = 'RUNNING' and t.attempts >= t.max_attempts then
        -- Its lease ran out on the last attempt before the sweep saw it.
        perform pgmq.archive(hq.queue_name, m.msg_id);
        perform edgeflow._expire_final(t.id);
        continue;
      end if;

      -- Concurrency slots. A re-claimed expired lease first gives its old ones back.
      if t.holds_slots then
        delete from edgeflow.slots where holder = t.id;
      end if;
      v_keys := '{}';
      v_limits := '{}';
      if v_pool.concurrency_limit is not null then
        v_keys := v_keys || ('pool:' || p_pool);
        v_limits := v_limits || v_pool.concurrency_limit;
      end if;
      if hq.queue_limit is not null then
        v_keys := v_keys || ('queue:' || p_pool || '/' || hq.queue);
        v_limits := v_limits || hq.queue_limit;
      end if;
      v_busy := false;
      if v_tags_limited and cardinality(v_run.tags) > 0 then
        select v_keys || coalesce(array_agg('tag:' || l.tag order by l.tag), '{}'),
               v_limits || coalesce(array_agg(l."limit" order by l.tag), '{}'),
               coalesce(bool_or(not pg_catalog.pg_try_advisory_xact_lock(
                          pg_catalog.hashtext('edgeflow.slot:tag:' || l.tag))), false)
          into v_keys, v_limits, v_busy
          from edgeflow.concurrency_limits l where l.tag = any(v_run.tags);
      end if;
      v_free := not v_busy;
      i := 1;
      while v_free and i <= cardinality(v_keys) loop
        v_free := edgeflow._slots_held(v_keys[i]) < v_limits[i];
        i := i + 1;
      end loop;
      if not v_free then
        if t.status = 'RUNNING' then
          -- An expired lease whose slots are gone meanwhile: queued again,
          -- like the sweep would (the crashed attempt stays counted).
          update edgeflow.tasks
             set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
                 error = jsonb_build_object('message', format(
                   'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
                   'crashed', true)
           where id = t.id;
        end if;
        perform pgmq.set_vt(hq.queue_name, m.msg_id, case when v_busy then 0 else 1 end);
        continue;
      end if;
      if cardinality(v_keys) > 0 then
        insert into edgeflow.slots (limit_key, holder, run_id)
        select k, t.id, t.run_id from unnest(v_keys) as k;
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
                                     then edgeflow.now() + make_interval(secs => v_timeout) end,
             worker = p_worker, started_at = coalesce(started_at, edgeflow.now()),
             holds_slots = cardinality(v_keys) > 0
       where id = t.id;
      if v_run.status <> 'RUNNING' then
        update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, edgeflow.now())
         where id = t.run_id and status in ('PENDING', 'SCHEDULED');
      end if;
      update edgeflow.step_states set status = 'RUNNING', started_at = edgeflow.now()
       where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
      v_out := v_out || jsonb_build_array(edgeflow._task_json(t.id));
      v_left := v_left - 1;
    end loop;
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow.complete_task.sql
CREATE OR REPLACE FUNCTION edgeflow.complete_task(p_task_id uuid, p_lease uuid, p_output jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
         ended_at = edgeflow.now()
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
    update edgeflow.step_states set status = 'COMPLETED', output = v_output, ended_at = edgeflow.now()
     where run_id = r.id and slug = t.slug;
    v_ready := edgeflow._step_done(r.id, r.flow_version_id, t.slug);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(r.id, v_ready);
    end if;
  end if;
  return jsonb_build_object('ok', true, 'task', p_task_id,
    'run_status', (select status from edgeflow.runs where id = r.id));
end
$function$;

-- from sql/functions/edgeflow.upsert_deployment.sql
-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
CREATE OR REPLACE FUNCTION edgeflow.upsert_deployment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.flows where name = p ->> 'flow') then
    return jsonb_build_object('error', 'unknown_flow', 'path', 'flow');
  end if;
  if jsonb_typeof(p -> 'version') = 'number' and not exists (
       select 1 from edgeflow.flow_versions
        where flow_name = p ->> 'flow' and version = (p ->> 'version')::int) then
    return jsonb_build_object('error', 'unknown_version', 'path', 'version');
  end if;
  if not exists (select 1 from edgeflow.pools where name = p ->> 'pool') then
    return jsonb_build_object('error', 'unknown_pool', 'path', 'pool');
  end if;
  insert into edgeflow.pool_queues (pool, name) values (p ->> 'pool', p ->> 'queue')
  on conflict do nothing;
  insert into edgeflow.deployments as d (name, flow_name, version_pin, pool, queue, description,
                                         parameters, tags, concurrency_limit, collision_strategy,
                                         paused, job_variables)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, updated_at = edgeflow.now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$function$;

-- from sql/functions/edgeflow.deploy.sql
-- Create or update a deployment and replace its schedule set, in one
-- transaction. `p_schedules` is the final set, decided by the API layer
-- (shared/scheduler/deploy_schedules.ts): entries with an `id` update that
-- schedule, entries without one are new; schedules left out are deleted.
CREATE OR REPLACE FUNCTION edgeflow.deploy(p jsonb, p_schedules jsonb, p_version text, p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v jsonb;
  v_state jsonb;
  v_old record;
  v_new record;
  v_id uuid;
  v_withdraw uuid[];
  v_first jsonb;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.deploy:' || (p ->> 'name')));
  -- The row lock an update takes, so a pause by another path waits for us;
  -- not FOR UPDATE, which would also block the runs that reference the row.
  select id, flow_name, version_pin, pool, queue, tags, parameters, paused into v_old
    from edgeflow.deployments where name = p ->> 'name' for no key update;
  -- The schedules' rows too, in the tick's order (next_fire_at, id): a tick
  -- that read one before this deploy finds its guard false afterwards.
  perform 1 from edgeflow.schedules where deployment_id = v_old.id
   order by next_fire_at, id for update;
  v_state := edgeflow.deploy_state(p ->> 'name');
  if p_version is distinct from v_state ->> 'version' then
    return jsonb_build_object('conflict', true, 'state', v_state);
  end if;

  v := edgeflow.upsert_deployment(p);
  if v ? 'error' then
    return v;
  end if;
  v_id := (v -> 'deployment' ->> 'id')::uuid;
  select flow_name, version_pin, pool, queue, tags, parameters, paused into v_new
    from edgeflow.deployments where id = v_id;

  -- Schedules whose planned runs no longer match: removed, changed, or all
  -- of them when the deployment changed what its runs are made of or was
  -- paused (a paused deployment starts nothing new, as in Prefect).
  v_withdraw := array(
    select s.id from edgeflow.schedules s
      left join jsonb_to_recordset(p_schedules) as e(id uuid, spec jsonb) on e.id = s.id
     where s.deployment_id = v_id
       and (e.id is null or e.spec is distinct from s.spec
            or (v_old.flow_name, v_old.version_pin, v_old.pool, v_old.queue, v_old.tags,
                v_old.parameters)
               is distinct from (v_new.flow_name, v_new.version_pin, v_new.pool, v_new.queue,
                                 v_new.tags, v_new.parameters)
            or (v_new.paused and not v_old.paused)));
  v_first := edgeflow._withdraw_planned_runs(v_withdraw, p_now);

  delete from edgeflow.schedules s
   where s.deployment_id = v_id
     and s.id not in (select (e ->> 'id')::uuid from jsonb_array_elements(p_schedules) e
                       where e ->> 'id' is not null);
  -- A schedule that keeps its fire times (the plan kept its next_fire_at)
  -- fires again from its earliest withdrawn run; one whose timing changed
  -- starts from the plan's next fire time after now.
  update edgeflow.schedules s
     set position = e.position, kind = e.kind, spec = e.spec, timezone = e.timezone,
         parameters = e.parameters, active = e.active, catchup = e.catchup,
         max_late = e.max_late,
         next_fire_at = case when e.keeps_fire_times
                             then least(e.next_fire_at, (v_first ->> s.id::text)::timestamptz)
                             else e.next_fire_at end,
         resumed_at = null, deployment_paused = v_new.paused,
         last_error = case when s.spec = e.spec then s.last_error end,
         updated_at = case when s.spec = e.spec and s.active = e.active then s.updated_at
                           else edgeflow.now() end
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz,
                                               keeps_fire_times boolean)
   where e.id is not null and s.id = e.id and s.deployment_id = v_id;
  -- created_at is the API's clock reading that anchored the spec's defaults
  -- (an interval's anchor), so a redeploy can read the same body the same way.
  insert into edgeflow.schedules (deployment_id, position, kind, spec, timezone, parameters,
                                  active, catchup, max_late, next_fire_at, deployment_paused,
                                  created_at)
  select v_id, e.position, e.kind, e.spec, e.timezone, e.parameters, e.active, e.catchup,
         e.max_late, e.next_fire_at, v_new.paused, coalesce(e.created_at, edgeflow.now())
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz, created_at timestamptz)
   where e.id is null;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id),
                            'created', v -> 'created');
end
$function$;

-- from sql/functions/edgeflow.extend_leases.sql
-- Extend the leases a worker still holds. Returns the tasks whose lease is
-- no longer the worker's (`lost`) and those of runs being cancelled
-- (`cancel`). A lease is extended only once less than half of it is left,
-- which halves the writes of a steady heartbeat.
CREATE OR REPLACE FUNCTION edgeflow.extend_leases(p_running jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
          and i.lease_expires_at < edgeflow.now() + make_interval(secs => i.timeout / 2.0) then
      update edgeflow.tasks set lease_expires_at = edgeflow.now() + make_interval(secs => i.timeout)
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
$function$;

-- from sql/functions/edgeflow.fail_task.sql
-- Fail an attempt: retry after base_delay * 2^(attempt-1) seconds while
-- attempts remain (the message stays invisible until then), else fail the
-- step and the run.
CREATE OR REPLACE FUNCTION edgeflow.fail_task(p_task_id uuid, p_lease uuid, p_error jsonb, p_retryable boolean DEFAULT true)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    v_retry_at := edgeflow.now() + make_interval(secs => v_delay);
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
         ended_at = edgeflow.now()
   where id = p_task_id;
  perform edgeflow._fail_run(r.id, t.slug, p_error);
  return jsonb_build_object('ok', true, 'task', p_task_id, 'retry_at', null,
                            'run_status', 'FAILED');
end
$function$;

-- from sql/functions/edgeflow.first_seen.sql
-- Record `p_key` for `p_ttl_ms`; true on its first sighting (or once its
-- previous record expired), false for a duplicate. Atomic under concurrency:
-- the primary key makes one of two racing inserts wait for the other.
CREATE OR REPLACE FUNCTION edgeflow.first_seen(p_key text, p_ttl_ms integer)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with hit as (
    insert into edgeflow.duplicate_keys as d (key, expires_at)
    values (p_key, edgeflow.now() + make_interval(secs => p_ttl_ms / 1000.0))
    on conflict (key) do update set expires_at = excluded.expires_at
     where d.expires_at <= edgeflow.now()
    returning 1)
  select exists (select 1 from hit);
$function$;

-- from sql/functions/edgeflow.hand_back_claims.sql
CREATE OR REPLACE FUNCTION edgeflow.hand_back_claims(p_claims jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_count integer := 0;
begin
  for t in
    select tk.id, tk.run_id, tk.slug, tk.queue_name, tk.msg_id
      from jsonb_array_elements(coalesce(p_claims, '[]')) c
      join edgeflow.tasks tk on tk.id = (c ->> 'task')::uuid
     where tk.status = 'RUNNING' and tk.lease = (c ->> 'lease')::uuid
     order by tk.id
       for update of tk
  loop
    update edgeflow.tasks
       set status = 'QUEUED', attempts = greatest(attempts - 1, 0), lease = null,
           lease_expires_at = null, worker = null, available_at = edgeflow.now(),
           started_at = case when attempts > 1 then started_at end
     where id = t.id;
    perform edgeflow._requeue(t.id, edgeflow.now());
    update edgeflow.step_states ss
       set status = 'QUEUED', started_at = null
     where ss.run_id = t.run_id and ss.slug = t.slug and ss.status = 'RUNNING'
       and not exists (select 1 from edgeflow.tasks o
                        where o.run_id = t.run_id and o.slug = t.slug
                          and (o.status <> 'QUEUED' or o.attempts > 0));
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$function$;

-- from sql/functions/edgeflow.heartbeat.sql
-- The worker protocol in one statement: liveness, leases, and new work.
CREATE OR REPLACE FUNCTION edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
         heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = edgeflow.now();
  v_leases := edgeflow.extend_leases(p_running);
  return v_leases || jsonb_build_object(
    'tasks', edgeflow.claim_tasks(p_pool, p_handlers, p_capacity, p_worker));
end
$function$;

-- from sql/functions/edgeflow.pause_schedule.sql
-- Pausing one schedule (POST .../schedules/:id/pause): inactive, and its
-- planned runs after `p_now` that have not started are withdrawn, as a
-- deploy with `active: false` does. Returns whether it was active.
CREATE OR REPLACE FUNCTION edgeflow.pause_schedule(p_id uuid, p_now timestamp with time zone)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules
     set active = false, spec = jsonb_set(spec, '{active}', 'false'), updated_at = edgeflow.now()
   where id = p_id and active;
  if not found then
    return false;
  end if;
  perform edgeflow._withdraw_planned_runs(array[p_id], p_now);
  return true;
end
$function$;

-- from sql/functions/edgeflow.prune_qstash_deliveries.sql
-- Delivery records outlive QStash's retries (days) by far after 30 days.
CREATE OR REPLACE FUNCTION edgeflow.prune_qstash_deliveries(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with gone as (
    delete from edgeflow.qstash_deliveries
     where message_id in (select message_id from edgeflow.qstash_deliveries
                           where received_at < edgeflow.now() - interval '30 days'
                           order by received_at limit p_limit)
    returning 1)
  select count(*)::integer from gone;
$function$;

-- from sql/functions/edgeflow.prune_rate_limits.sql
-- Forget ended windows and expired keys, oldest first, at most `p_limit` each.
CREATE OR REPLACE FUNCTION edgeflow.prune_rate_limits(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_windows integer;
  v_keys integer;
begin
  delete from edgeflow.rate_limit_windows where key in (
    select key from edgeflow.rate_limit_windows where window_end < edgeflow.now()
     order by window_end limit p_limit);
  get diagnostics v_windows = row_count;
  delete from edgeflow.duplicate_keys where key in (
    select key from edgeflow.duplicate_keys where expires_at < edgeflow.now()
     order by expires_at limit p_limit);
  get diagnostics v_keys = row_count;
  return v_windows + v_keys;
end
$function$;

-- from sql/functions/edgeflow.rate_limit_hit.sql
-- Count one request under `p_key` in a fixed window of `p_window_ms`:
-- returns {count, ttl_ms}, the count including this request and the time
-- left in its window. A window that has ended starts over at 1.
CREATE OR REPLACE FUNCTION edgeflow.rate_limit_hit(p_key text, p_window_ms integer)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  insert into edgeflow.rate_limit_windows as w (key, count, window_end)
  values (p_key, 1, edgeflow.now() + make_interval(secs => p_window_ms / 1000.0))
  on conflict (key) do update
     set count = case when w.window_end <= edgeflow.now() then 1 else w.count + 1 end,
         window_end = case when w.window_end <= edgeflow.now()
                           then edgeflow.now() + make_interval(secs => p_window_ms / 1000.0)
                           else w.window_end end
  returning jsonb_build_object(
    'count', w.count,
    'ttl_ms', greatest(1, ceil(extract(epoch from w.window_end - edgeflow.now()) * 1000))::int);
$function$;

-- from sql/functions/edgeflow.register_flow.sql
-- Register a flow version from its canonical definition (normalised by the
-- API layer: every field present, steps in topological order). Identical
-- re-registration, or the latest version's idempotency key, returns the
-- existing version; anything else becomes version N+1 and archives the
-- previous unarchived version of the same version group.
CREATE OR REPLACE FUNCTION edgeflow.register_flow(p_def jsonb, p_idempotency_key text DEFAULT NULL::text, p_version_group text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_name text := p_def ->> 'name';
  v_group text := coalesce(p_version_group, p_def ->> 'name');
  v_hash text := encode(sha256(convert_to(p_def::text, 'UTF8')), 'hex');
  v_latest record;
  v_id uuid;
  v_version integer;
begin
  -- One registration of a flow at a time: version numbers stay dense.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.register:' || v_name));
  insert into edgeflow.flows (name) values (v_name) on conflict do nothing;
  select id, version, hash, idempotency_key, version_group into v_latest
    from edgeflow.flow_versions where flow_name = v_name order by version desc limit 1;
  if found and (
       (p_idempotency_key is not null and v_latest.idempotency_key = p_idempotency_key)
    or (p_idempotency_key is null and v_latest.hash = v_hash and v_latest.version_group = v_group)
  ) then
    return jsonb_build_object('id', v_latest.id, 'name', v_name, 'version', v_latest.version,
                              'hash', v_latest.hash, 'created', false);
  end if;

  v_version := coalesce(v_latest.version, 0) + 1;
  update edgeflow.flow_versions set archived = true, archived_at = edgeflow.now()
   where flow_name = v_name and version_group = v_group and not archived;
  insert into edgeflow.flow_versions (flow_name, version, version_group, hash, idempotency_key,
                                      definition, settings)
  values (v_name, v_version, v_group, v_hash, p_idempotency_key, p_def,
          coalesce(p_def -> 'settings', '{}'))
  returning id into v_id;

  insert into edgeflow.flow_steps (flow_version_id, slug, step_index, handler, depends_on,
                                   dependents, map_from, max_attempts, base_delay, timeout,
                                   start_delay, args, deployment)
  select v_id, st ->> 'slug', (ord - 1)::integer, st ->> 'handler',
         array(select jsonb_array_elements_text(st -> 'depends_on')),
         array(select o ->> 'slug' from jsonb_array_elements(p_def -> 'steps') as o
                where o -> 'depends_on' ? (st ->> 'slug')),
         st ->> 'map', (st ->> 'max_attempts')::integer, (st ->> 'base_delay')::double precision,
         (st ->> 'timeout')::integer, coalesce((st ->> 'start_delay')::integer, 0),
         st -> 'args', st ->> 'deployment'
    from jsonb_array_elements(p_def -> 'steps') with ordinality as s(st, ord);

  return jsonb_build_object('id', v_id, 'name', v_name, 'version', v_version, 'hash', v_hash,
                            'created', true);
end
$function$;

-- from sql/functions/edgeflow.run_waiting_for.sql
-- {slug: {reason, message, …}} for the steps of a run that wait on something
-- other than a free worker's next claim. Reasons: concurrency_limit (with
-- `limit`: deployment:<name>, pool:<pool>, queue:<pool>/<queue>, tag:<tag>),
-- retry_backoff / start_delay / scheduled (with `until`), pool_paused,
-- queue_paused, no_worker (with `pool`, `handler`).
CREATE OR REPLACE FUNCTION edgeflow.run_waiting_for(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  r record;
  p record;
  s record;
  l record;
  v_out jsonb := '{}';
  v_why jsonb;
begin
  select ru.id, ru.pool, ru.tags, ru.status, ru.awaiting_slot, ru.scheduled_time,
         d.name as deployment, d.concurrency_limit as deployment_limit
    into r
    from edgeflow.runs ru left join edgeflow.deployments d on d.id = ru.deployment_id
   where ru.id = p_run_id;
  if not found or r.status not in ('SCHEDULED', 'PENDING', 'RUNNING') then
    return v_out;
  end if;
  if r.awaiting_slot is not null then
    -- Not admitted yet (0016): no task exists; its first steps say why.
    select coalesce(jsonb_object_agg(ss.slug, jsonb_build_object(
             'reason', 'concurrency_limit', 'limit', 'deployment:' || r.deployment,
             'message', format('deployment %s is at its concurrency limit: at most %s '
                               'run(s) at a time, this one waits its turn',
                               r.deployment, r.deployment_limit))), '{}')
      into v_out
      from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.status = 'PENDING' and ss.remaining_deps = 0;
    return v_out;
  end if;
  select type, paused, concurrency_limit into p from edgeflow.pools where name = r.pool;

  for s in
    select distinct on (tk.slug) tk.slug, tk.attempts, tk.available_at, h.handler, h.queue,
           q.paused as queue_paused, q.concurrency_limit as queue_limit
      from edgeflow.tasks tk
      join edgeflow.handler_queues h on h.queue_name = tk.queue_name
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where tk.run_id = p_run_id and tk.status = 'QUEUED'
     order by tk.slug, tk.available_at, tk.task_index
  loop
    v_why := null;
    if s.available_at > edgeflow.now() then
      v_why := case
        when s.attempts > 0 then jsonb_build_object(
          'reason', 'retry_backoff', 'until', edgeflow.iso(s.available_at),
          'message', format('retry backoff: attempt %s starts at %s', s.attempts + 1,
                            edgeflow.iso(s.available_at)))
        when r.scheduled_time is not null and s.available_at <= r.scheduled_time
          then jsonb_build_object(
          'reason', 'scheduled', 'until', edgeflow.iso(s.available_at),
          'message', format('scheduled for %s', edgeflow.iso(s.available_at)))
        else jsonb_build_object(
          'reason', 'start_delay', 'until', edgeflow.iso(s.available_at),
          'message', format('start delay: starts at %s', edgeflow.iso(s.available_at)))
      end;
    elsif p.paused then
      v_why := jsonb_build_object('reason', 'pool_paused', 'pool', r.pool,
                                  'message', format('pool %s is paused', r.pool));
    elsif s.queue_paused then
      v_why := jsonb_build_object('reason', 'queue_paused', 'pool', r.pool, 'queue', s.queue,
                                  'message', format('queue %s of pool %s is paused',
                                                    s.queue, r.pool));
    elsif p.type <> 'push' and not edgeflow._handler_online(r.pool, s.handler) then
      v_why := jsonb_build_object(
        'reason', 'no_worker', 'pool', r.pool, 'handler', s.handler,
        'message', format('no worker online for handler %s in pool %s', s.handler, r.pool));
    else
      -- A full limit, in the claim's order (0017): pool, queue, then tags.
      select k.key, k.lim, k.held into l
        from (
          select 1 as ord, 'pool:' || r.pool as key, p.concurrency_limit as lim
           where p.concurrency_limit is not null
          union all
          select 2, 'queue:' || r.pool || '/' || s.queue, s.queue_limit
           where s.queue_limit is not null
          union all
          select 3, 'tag:' || cl.tag, cl."limit"
            from edgeflow.concurrency_limits cl where cl.tag = any(r.tags)
        ) k0
        cross join lateral (select k0.ord, k0.key, k0.lim,
                                   edgeflow._slots_held(k0.key) as held) k
       where k.held >= k.lim
       order by k.ord, k.key
       limit 1;
      if found then
        v_why := jsonb_build_object(
          'reason', 'concurrency_limit', 'limit', l.key,
          'message', format('concurrency limit %s is full (%s of %s running)',
                            l.key, l.held, l.lim));
      end if;
    end if;
    if v_why is not null then
      v_out := v_out || jsonb_build_object(s.slug, v_why);
    end if;
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow.set_concurrency_limit.sql
-- Create or change a tag limit. Lowering it below the slots in use takes
-- nothing away: running tasks finish, new claims wait until under the limit.
CREATE OR REPLACE FUNCTION edgeflow.set_concurrency_limit(p_tag text, p_limit integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_created boolean;
begin
  insert into edgeflow.concurrency_limits as l (tag, "limit") values (p_tag, p_limit)
  on conflict (tag) do update set "limit" = excluded."limit", updated_at = edgeflow.now()
  returning (l.xmax = 0) into v_created;
  return jsonb_build_object('limit', edgeflow.concurrency_limit_json(p_tag),
                            'created', v_created);
end
$function$;

-- from sql/functions/edgeflow.start_run.sql
-- Start a run of a flow version. Options (all optional): deployment_id, pool,
-- queue, tags, idempotency_scope + idempotency_key + request_hash,
-- parent_task_id, scheduled_time. Returns {run_id, status, created} or
-- {error} for expected refusals (archived, unknown version, idempotency
-- conflict), never an exception for those.
CREATE OR REPLACE FUNCTION edgeflow.start_run(p_flow_version_id uuid, p_parameters jsonb, p_opts jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  fv record;
  v_run_id uuid := gen_random_uuid();
  v_existing record;
  v_scheduled timestamptz := (p_opts ->> 'scheduled_time')::timestamptz;
  v_pool text := coalesce(p_opts ->> 'pool', 'default');
  v_queue text := coalesce(p_opts ->> 'queue', 'default');
  v_status text;
  v_steps integer;
  v_roots text[];
  v_tags text[];
begin
  select id, flow_name, version, archived, settings, definition -> 'tags' as tags into fv
    from edgeflow.flow_versions where id = p_flow_version_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if fv.archived then
    return jsonb_build_object('error', 'archived', 'flow', fv.flow_name, 'version', fv.version);
  end if;
  if not exists (select 1 from edgeflow.pools where name = v_pool) then
    return jsonb_build_object('error', 'unknown_pool', 'pool', v_pool);
  end if;
  v_status := case when v_scheduled > edgeflow.now() then 'SCHEDULED' else 'PENDING' end;
  select count(*), array_agg(slug order by step_index) filter (where cardinality(depends_on) = 0)
    into v_steps, v_roots
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  v_tags := array(
    select t.tag
      from jsonb_array_elements_text(
             case when jsonb_typeof(fv.tags) = 'array' then fv.tags else '[]' end
             || case when jsonb_typeof(p_opts -> 'tags') = 'array' then p_opts -> 'tags'
                     else '[]' end) with ordinality as t(tag, ord)
     group by t.tag
     order by min(t.ord));

  insert into edgeflow.runs (id, flow_version_id, flow_name, version, deployment_id, pool, queue,
                             parameters, tags, status, remaining_steps, version_lock, heartbeat,
                             idempotency_scope, idempotency_key, request_hash, parent_task_id,
                             scheduled_time)
  values (v_run_id, fv.id, fv.flow_name, fv.version, (p_opts ->> 'deployment_id')::uuid,
          v_pool, v_queue, coalesce(p_parameters, '{}'), v_tags,
          v_status, v_steps,
          coalesce((fv.settings ->> 'version_lock')::boolean, true),
          coalesce((fv.settings ->> 'heartbeat')::boolean, true),
          p_opts ->> 'idempotency_scope', p_opts ->> 'idempotency_key',
          p_opts ->> 'request_hash', (p_opts ->> 'parent_task_id')::uuid, v_scheduled)
  on conflict (idempotency_scope, idempotency_key) where idempotency_key is not null
  do nothing;

  if not found then
    -- Same key seen before: the same request gets the same run.
    select id, status, request_hash into v_existing from edgeflow.runs
     where idempotency_scope = p_opts ->> 'idempotency_scope'
       and idempotency_key = p_opts ->> 'idempotency_key';
    if v_existing.request_hash is distinct from p_opts ->> 'request_hash' then
      return jsonb_build_object('error', 'idempotency_conflict', 'run_id', v_existing.id);
    end if;
    return jsonb_build_object('run_id', v_existing.id, 'status', v_existing.status,
                              'created', false);
  end if;

  insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps)
  select v_run_id, slug, step_index, 'PENDING', cardinality(depends_on)
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  perform edgeflow._start_steps(v_run_id, v_roots);

  select status into v_status from edgeflow.runs where id = v_run_id;
  return jsonb_build_object('run_id', v_run_id, 'status', v_status, 'created', true,
                            'flow', fv.flow_name, 'version', fv.version);
end
$function$;

-- from sql/functions/edgeflow.start_subflow_task.sql
-- Start the child of one claimed subflow task with the parameters the
-- driver built and validated against version p_version_id's schema, or fail
-- the step with p_error (bad deployment, depth, template or schema errors).
-- → {"status": "started", "run_id"} | {"status": "failed"} | {"status": "stale"}
--   | {"status": "again"} (the deployment now runs another version: the
--   message is visible at once and the driver builds the parameters anew).
CREATE OR REPLACE FUNCTION edgeflow.start_subflow_task(p_task_id uuid, p_msg_id bigint, p_version_id uuid, p_params jsonb, p_error jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  s record;
  d jsonb;
  v_problem jsonb;
  v_res jsonb;
  v_child uuid;
begin
  perform 1 from edgeflow.runs
   where id = (select run_id from edgeflow.tasks where id = p_task_id) for update;
  select tk.id, tk.run_id, tk.slug, tk.status, tk.msg_id, r.status as run_status,
         r.flow_version_id
    into t
    from edgeflow.tasks tk join edgeflow.runs r on r.id = tk.run_id
   where tk.id = p_task_id for update of tk;
  if t.id is null or t.status <> 'QUEUED' or t.msg_id is distinct from p_msg_id
     or t.run_status not in ('PENDING', 'RUNNING') then
    return jsonb_build_object('status', 'stale');  -- the claim pass sorts the message out
  end if;
  select fs.deployment, fs.args into s from edgeflow.flow_steps fs
   where fs.flow_version_id = t.flow_version_id and fs.slug = t.slug;
  d := edgeflow.deployment_target(s.deployment);
  v_problem := coalesce(p_error,
                        edgeflow._subflow_start_problem(t.run_id, t.slug, s.deployment, s.args, d));
  if v_problem is null and (d ->> 'version_id')::uuid is distinct from p_version_id then
    perform pgmq.set_vt('ef_subflows', p_msg_id, 0);
    return jsonb_build_object('status', 'again');
  end if;
  perform pgmq.delete('ef_subflows', p_msg_id);
  if v_problem is not null then
    perform edgeflow._subflow_refuse(p_task_id, v_problem);
    return jsonb_build_object('status', 'failed');
  end if;

  update edgeflow.tasks
     set status = 'RUNNING', attempts = attempts + 1, worker = 'subflow', msg_id = null,
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, edgeflow.now())
   where id = p_task_id;
  v_res := edgeflow.start_run(p_version_id, p_params, jsonb_build_object(
    'deployment_id', d -> 'id', 'pool', d -> 'pool', 'queue', d -> 'queue',
    'tags', d -> 'tags', 'parent_task_id', p_task_id));
  if v_res ? 'error' then
    perform edgeflow._subflow_refuse(p_task_id, jsonb_build_object(
      'message', format('step "%s": deployment "%s" refused the child run (%s)',
                        t.slug, s.deployment, v_res ->> 'error'),
      'code', 'subflow_refused', 'deployment', s.deployment));
    return jsonb_build_object('status', 'failed');
  end if;
  v_child := (v_res ->> 'run_id')::uuid;
  update edgeflow.tasks set subflow_run_id = v_child where id = p_task_id;
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, edgeflow.now())
   where id = t.run_id and status in ('PENDING', 'SCHEDULED');
  update edgeflow.step_states set status = 'RUNNING', started_at = edgeflow.now()
   where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
  -- A child may end at birth (collision strategy cancel_new): its end
  -- trigger fired before the task knew its child, so the end is taken here.
  if exists (select 1 from edgeflow.runs where id = v_child
                and status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')) then
    perform edgeflow._subflow_child_ended(v_child);
  end if;
  return jsonb_build_object('status', 'started', 'run_id', v_child);
end
$function$;

-- from sql/functions/edgeflow.ui_set_deployment_paused.sql
-- Pause or resume a deployment. Its schedules keep their own `active` flags:
-- a paused deployment fires none of them (the trigger route refuses it with
-- 409 and the scheduler skips it), and resuming brings back exactly the
-- schedules that were active before, which flipping every schedule would
-- lose. Returns the deployment document, or null for an unknown name.
CREATE OR REPLACE FUNCTION edgeflow.ui_set_deployment_paused(p_name text, p_paused boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  update edgeflow.deployments
     set paused = p_paused,
         updated_at = case when paused is distinct from p_paused then edgeflow.now() else updated_at end
   where name = p_name
  returning id into v_id;
  return edgeflow.deployment_json(v_id);
end
$function$;

-- from sql/triggers/deployments.sql
-- The triggers on edgeflow.deployments. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: deployments_limit_changed → edgeflow._deployment_limit_changed() when (old.concurrency_limit IS DISTINCT FROM new.concurrency_limit)
--   2. after update, for each row: deployments_pause_schedules → edgeflow._deployment_pause_schedules() when (old.paused IS DISTINCT FROM new.paused)

-- Raising (or removing) a deployment's limit starts waiting runs at once.
CREATE OR REPLACE FUNCTION edgeflow._deployment_limit_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._admit_waiting(new.id);
  return null;
end
$function$;

-- Pausing a deployment pauses its schedules, whichever path changes the flag.
CREATE OR REPLACE FUNCTION edgeflow._deployment_pause_schedules()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules
     set deployment_paused = new.paused,
         resumed_at = case when new.paused then resumed_at else edgeflow.now() end
   where deployment_id = new.id;
  if new.paused then
    perform edgeflow._withdraw_planned_runs(
      array(select id from edgeflow.schedules where deployment_id = new.id), edgeflow.now());
  end if;
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER deployments_limit_changed AFTER UPDATE OF concurrency_limit ON edgeflow.deployments FOR EACH ROW WHEN ((old.concurrency_limit IS DISTINCT FROM new.concurrency_limit)) EXECUTE FUNCTION edgeflow._deployment_limit_changed();

CREATE OR REPLACE TRIGGER deployments_pause_schedules AFTER UPDATE OF paused ON edgeflow.deployments FOR EACH ROW WHEN ((old.paused IS DISTINCT FROM new.paused)) EXECUTE FUNCTION edgeflow._deployment_pause_schedules();

-- from sql/triggers/runs.sql
-- The triggers on edgeflow.runs. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: runs_before_end → edgeflow._run_before_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))
--   2. after insert, for each row: events_run_insert → edgeflow._run_event()
--   3. after insert, for each row: runs_admit → edgeflow._run_admit() when (new.deployment_id IS NOT NULL)
--   4. after update, for each row: events_run_update → edgeflow._run_event() when (old.status IS DISTINCT FROM new.status)
--   5. after update, for each row: runs_after_child_end → edgeflow._subflow_child_end_trigger() when ((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   6. after update, for each row: runs_after_end → edgeflow._run_after_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   7. after update, for each row: runs_stop_children → edgeflow._subflow_parent_stopped() when ((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
CREATE OR REPLACE FUNCTION edgeflow._run_admit()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy into d
    from edgeflow.deployments where id = new.deployment_id;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, new.id, new.id);
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = edgeflow.now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$function$;

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
CREATE OR REPLACE FUNCTION edgeflow._run_after_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null and ('deployment:' || new.deployment_id) = any(v_freed) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$function$;

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
CREATE OR REPLACE FUNCTION edgeflow._run_before_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.awaiting_slot := null;
  if new.status = 'CRASHED' then
    if coalesce((select (fv.settings ->> 'lazarus')::boolean from edgeflow.flow_versions fv
                  where fv.id = new.flow_version_id), false) then
      if new.resurrections < 3 then
        new.lazarus_due := true;
      else
        new.error := coalesce(new.error, '{}') || jsonb_build_object(
          'resurrections', new.resurrections,
          'lazarus', 'gave up: the run crashed again after 3 resurrections');
      end if;
    end if;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._run_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end);
  perform edgeflow._notify_event(new.id);
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._subflow_child_end_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$function$;

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
CREATE OR REPLACE FUNCTION edgeflow._subflow_parent_stopped()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select tk.id, tk.subflow_run_id from edgeflow.tasks tk
     where tk.run_id = new.id and tk.status = 'RUNNING' and tk.queue_name = 'ef_subflows'
     order by tk.task_index
       for update
  loop
    -- The task first: the child's end trigger then sees nothing to settle.
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = edgeflow.now()
     where id = t.id;
    perform 1 from edgeflow.runs where id = t.subflow_run_id for update skip locked;
    if found then
      perform edgeflow.cancel_run(t.subflow_run_id);
    end if;
  end loop;
  if found and new.status = 'CANCELLING' then
    -- Its subflow tasks were what kept it CANCELLING; worker tasks may remain.
    perform edgeflow._settle_cancelling(new.id);
  end if;
  return null;
end
$function$;

-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
CREATE OR REPLACE TRIGGER runs_before_end BEFORE UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))) EXECUTE FUNCTION edgeflow._run_before_end();

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
CREATE OR REPLACE TRIGGER events_run_insert AFTER INSERT ON edgeflow.runs FOR EACH ROW EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_admit AFTER INSERT ON edgeflow.runs FOR EACH ROW WHEN ((new.deployment_id IS NOT NULL)) EXECUTE FUNCTION edgeflow._run_admit();

CREATE OR REPLACE TRIGGER events_run_update AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_after_child_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._subflow_child_end_trigger();

CREATE OR REPLACE TRIGGER runs_after_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_after_end();

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();
