-- traces_and_late_runs: written by `deno task sql:migration` from what changed in sql/.

-- The run's trace context (OpenTelemetry, issue 15: see edgeflow.trace_context)
-- and when the run was flagged late (edgeflow.mark_late_runs).
alter table edgeflow.runs add column trace jsonb;
alter table edgeflow.runs add column late_at timestamp with time zone;

-- Runs not started and not flagged late yet, by the time they should have
-- started: edgeflow.mark_late_runs reads only these.
CREATE INDEX runs_not_started ON edgeflow.runs USING btree (COALESCE(scheduled_time, created_at)) WHERE ((status = ANY (ARRAY['SCHEDULED'::text, 'PENDING'::text])) AND (late_at IS NULL));

-- from sql/functions/edgeflow.task_span_id.sql
-- The span id of a task attempt in its run's trace (W3C: 16 hex digits),
-- derived rather than stored: the task document (edgeflow.trace_context)
-- and the span exporter (shared/otel/spans.ts reads it here) name the same
-- span without a column or a write on the claim. No SET clause, immutable:
-- the planner inlines it.
CREATE OR REPLACE FUNCTION edgeflow.task_span_id(p_task_id uuid, p_attempt integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select pg_catalog.substr(pg_catalog.md5(p_task_id::text || '/' || p_attempt::text), 1, 16);
$function$;

-- from sql/functions/edgeflow.trace_context.sql
-- The W3C trace context a task attempt carries to its worker (the task
-- document's `trace`, ClaimedTask in shared/engine/tasks.ts): `traceparent`
-- names the run's trace and the attempt's own span (edgeflow.task_span_id),
-- so a span the handler starts from it is a child of the attempt; the
-- trigger's `tracestate` travels unchanged. `p_trace` is runs.trace
-- ({trace_id, span_id, parent_id, flags, tracestate}, written by the trigger
-- from its traceparent header, or fresh); a run started without one (a
-- schedule, an event, a subflow) has its own id as trace id: a fresh trace,
-- nothing stored. No SET clause, immutable: inlined into _tasks_json.
CREATE OR REPLACE FUNCTION edgeflow.trace_context(p_run_id uuid, p_trace jsonb, p_task_id uuid, p_attempt integer)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select pg_catalog.jsonb_build_object('traceparent',
           '00-' || coalesce(p_trace ->> 'trace_id', pg_catalog.replace(p_run_id::text, '-', ''))
           || '-' || edgeflow.task_span_id(p_task_id, p_attempt)
           || '-' || coalesce(p_trace ->> 'flags', '01'))
         || case when p_trace ? 'tracestate'
                 then pg_catalog.jsonb_build_object('tracestate', p_trace -> 'tracestate')
                 else '{}'::jsonb end;
$function$;

-- from sql/functions/edgeflow._tasks_json.sql
-- The task documents (ClaimedTask in shared/engine/tasks.ts) of `p_ids`, as
-- one JSON array in the order given: the one place that document is built
-- (_task_json is this for one id). Set-based, so a claim of 50 tasks reads
-- runs, steps and dependency outputs in one pass instead of 50 (claim batch50:
-- see claim_tasks for the figures).
CREATE OR REPLACE FUNCTION edgeflow._tasks_json(p_ids uuid[])
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (select coalesce(jsonb_agg(jsonb_build_object(
    'task', t.id, 'lease', t.lease, 'run_id', t.run_id, 'flow', r.flow_name,
    'step', t.slug, 'handler', fs.handler, 'attempt', t.attempts,
    'max_attempts', t.max_attempts, 'task_index', t.task_index,
    'lease_expires_at', edgeflow.iso(t.lease_expires_at),
    'trace', edgeflow.trace_context(r.id, r.trace, t.id, t.attempts),
    'input', jsonb_build_object(
      'run', r.parameters,
      'deps', coalesce((select jsonb_object_agg(d.slug, d.output) from edgeflow.step_states d
                         where d.run_id = t.run_id and d.slug = any(fs.depends_on)), '{}'),
      'args', fs.args)
      || case when fs.map_from is null then '{}'::jsonb
              else jsonb_build_object('item', t.item) end) order by i.ord), '[]')
    from unnest(p_ids) with ordinality as i(id, ord)
    join edgeflow.tasks t on t.id = i.id
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug);
end
$function$;

-- from sql/functions/edgeflow.list_runs.sql
-- list_runs (0010) again, same signature and output, reading through the
-- index that matches its filters.
--
-- Why: 0010's single statement says `(p_status is null or r.status =
-- p_status)`, which the planner cannot turn into an index condition, so every
-- filter was applied while walking runs_newest. A status or flow with few
-- runs then read the whole index: 25 ms at 100,000 runs for a status with
-- none, growing with the table (measured for the dashboard, tests/bench/ui.ts).
-- One static statement per leading filter lets each use its own index
-- (runs_deployment_newest, runs_status_newest, runs_flow_newest, runs_newest).
--
-- The cursor is always a row comparison, `(created_at, id) < (at, id)`, with
-- +infinity standing in for "no cursor": an index condition, so a page deep
-- in the list costs what the first page costs.
CREATE OR REPLACE FUNCTION edgeflow.list_runs(p_status text, p_flow text, p_deployment text, p_limit integer, p_before_at timestamp with time zone, p_before_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_at timestamptz := coalesce(p_before_at, 'infinity');
  v_id uuid := coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  v_dep uuid;
  v_ids uuid[];
begin
  if p_deployment is not null then
    select id into v_dep from edgeflow.deployments where name = p_deployment;
    if v_dep is null then
      return '[]';
    end if;
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.deployment_id = v_dep and (r.created_at, r.id) < (v_at, v_id)
         and (p_status is null or r.status = p_status)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.deployment_id, r.created_at desc, r.id desc limit p_limit);
  elsif p_status is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.status = p_status and (r.created_at, r.id) < (v_at, v_id)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.status, r.created_at desc, r.id desc limit p_limit);
  elsif p_flow is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.flow_name = p_flow and (r.created_at, r.id) < (v_at, v_id)
       order by r.flow_name, r.created_at desc, r.id desc limit p_limit);
  else
    v_ids := array(
      select r.id from edgeflow.runs r
       where (r.created_at, r.id) < (v_at, v_id)
       order by r.created_at desc, r.id desc limit p_limit);
  end if;

  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', r.id, 'status', edgeflow.run_status_shown(r.id, r.status), 'flow', r.flow_name, 'version', r.version,
             'deployment', d.name, 'parameters', r.parameters, 'error', r.error,
             'scheduled_time', edgeflow.iso(r.scheduled_time),
             'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
             'ended_at', edgeflow.iso(r.ended_at),
             'late', r.late_at is not null and r.status in ('SCHEDULED', 'PENDING'),
             'late_at', edgeflow.iso(r.late_at),
             'cursor_at', to_char(r.created_at at time zone 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           order by r.created_at desc, r.id desc), '[]')
      from edgeflow.runs r
      left join edgeflow.deployments d on d.id = r.deployment_id
     where r.id = any(v_ids));
end
$function$;

-- from sql/functions/edgeflow.mark_late_runs.sql
-- Late runs (Prefect's Late state), decided by the tick: a run still
-- SCHEDULED or PENDING p_late_seconds after its scheduled time (its creation
-- when it has none; EDGEFLOW_LATE_SECONDS, default 60) is flagged once:
-- runs.late_at is set and a `run` event from its status to LATE is written,
-- which the run's event stream, GET /trigger/runs (`late`) and the dashboard
-- show. Its status does not change: the run starts as any other when a worker
-- comes. At most p_limit runs a pass, oldest first, read through
-- runs_not_started (only runs not started and not flagged yet), and a run
-- another transaction holds is left to the next pass. Returns the number
-- flagged.
CREATE OR REPLACE FUNCTION edgeflow.mark_late_runs(p_late_seconds integer DEFAULT 60, p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  v_ids uuid[];
begin
  with due as (
    select r.id from edgeflow.runs r
     where r.status in ('SCHEDULED', 'PENDING') and r.late_at is null
       and coalesce(r.scheduled_time, r.created_at) < v_now - make_interval(secs => p_late_seconds)
     order by coalesce(r.scheduled_time, r.created_at)
     limit p_limit
       for update skip locked
  ), marked as (
    update edgeflow.runs r set late_at = v_now from due where r.id = due.id
    returning r.id, r.status, r.created_at
  ), logged as (
    insert into edgeflow.events (run_id, kind, from_status, to_status, run_created_at)
    select m.id, 'run', m.status, 'LATE', m.created_at from marked m
    returning run_id
  )
  select coalesce(array_agg(l.run_id), '{}') into v_ids from logged l;
  perform edgeflow._notify_event(id) from unnest(v_ids) as u(id);
  return cardinality(v_ids);
end
$function$;

-- from sql/functions/edgeflow.run_json.sql
CREATE OR REPLACE FUNCTION edgeflow.run_json(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', r.id, 'status', edgeflow.run_status_shown(r.id, r.status), 'flow', r.flow_name, 'version', r.version,
    'deployment', d.name, 'pool', r.pool, 'queue', r.queue, 'tags', to_jsonb(r.tags),
    'parameters', r.parameters, 'output', r.output, 'error', r.error,
    'idempotency_key', r.idempotency_key, 'retries', r.retries,
    'late', r.late_at is not null and r.status in ('SCHEDULED', 'PENDING'),
    'late_at', edgeflow.iso(r.late_at),
    'trace', pg_catalog.jsonb_build_object(
      'trace_id', coalesce(r.trace ->> 'trace_id', pg_catalog.replace(r.id::text, '-', '')),
      'span_id', r.trace ->> 'span_id', 'parent_id', r.trace ->> 'parent_id'),
    'parent', case when r.parent_task_id is null then null else (
      select jsonb_build_object('run_id', pt.run_id, 'step', pt.slug, 'task', pt.id)
        from edgeflow.tasks pt where pt.id = r.parent_task_id) end,
    'scheduled_time', edgeflow.iso(r.scheduled_time),
    'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
    'ended_at', edgeflow.iso(r.ended_at),
    'steps', coalesce((
      select jsonb_agg(jsonb_build_object(
               'slug', ss.slug, 'status', ss.status, 'depends_on', to_jsonb(fs.depends_on),
               'handler', fs.handler, 'map', fs.map_from, 'deployment', fs.deployment,
               'attempts', coalesce(tk.attempts, 0), 'tasks', coalesce(ss.total_tasks, 0),
               'output', ss.output, 'error', coalesce(ss.error, tk.last_error),
               'started_at', edgeflow.iso(ss.started_at), 'ended_at', edgeflow.iso(ss.ended_at))
             || case when ss.status = 'WAITING' then jsonb_build_object('wait', (
                  select jsonb_build_object('event', w.event_name, 'key', w.event_key,
                                            'until', edgeflow.iso(w.timeout_at),
                                            'on_timeout', w.on_timeout)
                    from edgeflow.waits w where w.run_id = ss.run_id and w.slug = ss.slug))
                  else '{}' end
             order by ss.step_index)
        from edgeflow.step_states ss
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
        left join lateral (
          select sum(t.attempts)::int as attempts,
                 (array_agg(t.error order by t.task_index) filter (where t.error is not null))[1]
                   as last_error
            from edgeflow.tasks t where t.run_id = ss.run_id and t.slug = ss.slug) tk on true
       where ss.run_id = r.id), '[]'),
    -- Children through runs_parent (0003), probed per task of this run.
    'children', coalesce((
      select jsonb_agg(jsonb_build_object('run_id', c.id, 'status', c.status, 'step', t.slug,
                                          'task_index', t.task_index)
                       order by c.created_at, t.task_index, c.id)
        from edgeflow.tasks t
        join edgeflow.runs c on c.parent_task_id = t.id
       where t.run_id = r.id), '[]'))
    from edgeflow.runs r
    left join edgeflow.deployments d on d.id = r.deployment_id
   where r.id = p_run_id;
$function$;

-- from sql/functions/edgeflow.start_run.sql
-- Start a run of a flow version. Options (all optional): deployment_id, pool,
-- queue, tags, idempotency_scope + idempotency_key + request_hash,
-- parent_task_id, scheduled_time, trace (the run's trace context, see
-- edgeflow.trace_context). Returns {run_id, status, created} or
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
                             scheduled_time, trace)
  values (v_run_id, fv.id, fv.flow_name, fv.version, (p_opts ->> 'deployment_id')::uuid,
          v_pool, v_queue, coalesce(p_parameters, '{}'), v_tags,
          v_status, v_steps,
          coalesce((fv.settings ->> 'version_lock')::boolean, true),
          coalesce((fv.settings ->> 'heartbeat')::boolean, true),
          p_opts ->> 'idempotency_scope', p_opts ->> 'idempotency_key',
          p_opts ->> 'request_hash', (p_opts ->> 'parent_task_id')::uuid, v_scheduled,
          p_opts -> 'trace')
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

-- from sql/functions/edgeflow.tick.sql
-- The tick without HTTP, for pg_cron (`select edgeflow.tick()` every
-- minute): what POST /trigger/tick does that SQL can do, in its order —
-- the maintenance pass (edgeflow.maintenance: expired leases, idle runs,
-- Lazarus, waiting runs, pruning runs), the subflow pass (edgeflow.subflow_tick:
-- retries, orphaned children), and the schedules' planned fire times
-- (edgeflow.fire_planned_schedules), due wait timeouts and sleeps, then the
-- event partitions
-- (edgeflow.maintain_partitions). What stays in the HTTP tick: starting
-- subflow children (their parameters are checked against a JSON Schema in
-- TypeScript), planning fire times (croner/rrule), schedules without a
-- usable plan, debounced event triggers and re-processing of events a crash
-- left unprocessed, QStash publishing and push delivery. Safe to run from several
-- jobs at once: each part is guarded as it is for racing HTTP ticks.
CREATE OR REPLACE FUNCTION edgeflow.tick()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.maintenance();
  v_subflows jsonb := edgeflow.subflow_tick();
  v_result jsonb;
begin
  v_result := v_sweep || jsonb_build_object('subflows', v_subflows)
              || edgeflow.fire_planned_schedules()
              -- Waits and sleeps that are due, and per-key lines (issue 16).
              || jsonb_build_object('events', jsonb_build_object(
                   'timeouts', edgeflow.fire_wait_timeouts(),
                   'pruned', edgeflow.prune_inbound_events(),
                   'steps_admitted', edgeflow.admit_queued_steps()))
              -- Runs not started in time (EDGEFLOW_LATE_SECONDS' default here).
              || jsonb_build_object('late', edgeflow.mark_late_runs());
  -- Last, with nothing left to wait for: see edgeflow.maintain_partitions.
  return v_result || edgeflow.maintain_partitions();
end
$function$;
