-- Internal transitions shared by the public functions: starting steps,
-- finishing steps, finishing runs. Callers hold the run's row lock, so every
-- transition of one run is serialised by that single lock (see 0006).

-- The pgmq queue for a handler in a pool's queue; created on first use.
create function edgeflow.ensure_handler_queue(p_pool text, p_queue text, p_handler text,
                                              p_vt integer)
returns text language plpgsql set search_path = '' as $$
declare
  v_name text;
begin
  select hq.queue_name into v_name from edgeflow.handler_queues hq
   where hq.pool = p_pool and hq.queue = p_queue and hq.handler = p_handler;
  if found then
    return v_name;
  end if;
  -- pgmq names are table names: derive a short, safe one from the triple.
  v_name := 'ef_' || substr(md5(p_pool || chr(31) || p_queue || chr(31) || p_handler), 1, 24);
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:' || v_name));
  insert into edgeflow.pool_queues (pool, name) values (p_pool, p_queue) on conflict do nothing;
  if not exists (select 1 from edgeflow.handler_queues hq where hq.queue_name = v_name) then
    perform pgmq.create(v_name);
    insert into edgeflow.handler_queues (pool, queue, handler, queue_name, vt_seconds)
    values (p_pool, p_queue, p_handler, v_name, greatest(p_vt, 1)) on conflict do nothing;
  end if;
  return v_name;
end
$$;

-- Seconds until `at`, rounded up: pgmq delays are whole seconds.
create function edgeflow.delay_seconds(p_at timestamptz)
returns integer language plpgsql volatile set search_path = '' as $$
begin
  return greatest(0, ceil(extract(epoch from p_at - clock_timestamp())))::integer;
end
$$;

-- Remove a run's queued tasks and their messages. Tasks are taken with
-- `skip locked`: one locked by a claimer in flight is cancelled by that
-- claimer when it sees the run's state, or later by the sweep.
create function edgeflow._cancel_queued_tasks(p_run_id uuid)
returns void language plpgsql set search_path = '' as $$
declare
  t record;
begin
  for t in
    select id, queue_name, msg_id from edgeflow.tasks
     where run_id = p_run_id and status = 'QUEUED'
       for update skip locked
  loop
    perform pgmq.delete(t.queue_name, t.msg_id);
    update edgeflow.tasks set status = 'CANCELLED', ended_at = now() where id = t.id;
  end loop;
end
$$;

-- The run is over: finish it with `p_status`, cancel whatever has not finished.
create function edgeflow._finish_run(p_run_id uuid, p_status text, p_error jsonb)
returns void language plpgsql set search_path = '' as $$
begin
  update edgeflow.runs
     set status = p_status, error = coalesce(p_error, error), ended_at = now()
   where id = p_run_id;
  update edgeflow.step_states
     set status = 'CANCELLED', ended_at = now()
   where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'RUNNING');
  perform edgeflow._cancel_queued_tasks(p_run_id);
end
$$;

-- A step failed for good: the step and the run fail with its error.
create function edgeflow._fail_run(p_run_id uuid, p_slug text, p_error jsonb)
returns void language plpgsql set search_path = '' as $$
begin
  update edgeflow.step_states set status = 'FAILED', error = p_error, ended_at = now()
   where run_id = p_run_id and slug = p_slug;
  perform edgeflow._finish_run(p_run_id, 'FAILED',
                               jsonb_build_object('step', p_slug) || coalesce(p_error, '{}'));
end
$$;

-- A step completed: count down its dependents and the run. Returns the
-- dependents that became ready, in declaration order. Completes the run with
-- the outputs of its leaf steps when this was the last step.
create function edgeflow._step_done(p_run_id uuid, p_flow_version_id uuid, p_slug text)
returns text[] language plpgsql set search_path = '' as $$
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
       set status = 'COMPLETED', ended_at = now(),
           output = (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                       from edgeflow.step_states ss
                       join edgeflow.flow_steps fs
                         on fs.flow_version_id = p_flow_version_id and fs.slug = ss.slug
                      where ss.run_id = p_run_id and cardinality(fs.dependents) = 0)
     where r.id = p_run_id;
  end if;
  return v_ready;
end
$$;

-- Start steps whose dependencies are complete: one task each, or one per
-- element for a map step. An empty map completes at once with [] and may make
-- further steps ready, hence the work list.
create function edgeflow._start_steps(p_run_id uuid, p_slugs text[])
returns void language plpgsql set search_path = '' as $$
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
             queued_at = now(), started_at = now(), ended_at = now()
       where run_id = p_run_id and slug = v_slug;
      v_work := v_work || edgeflow._step_done(p_run_id, r.flow_version_id, v_slug);
      continue;
    end if;

    v_queue := edgeflow.ensure_handler_queue(r.pool, r.queue, s.handler, s.timeout);
    v_at := greatest(now() + make_interval(secs => s.start_delay),
                     coalesce(r.scheduled_time, '-infinity'));
    v_ids := array(select gen_random_uuid() from generate_series(1, v_n));
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
       set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = now()
     where run_id = p_run_id and slug = v_slug;
  end loop;
end
$$;
