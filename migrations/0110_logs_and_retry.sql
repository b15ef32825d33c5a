-- logs_and_retry: written by `deno task sql:migration` from what changed in sql/.

-- Retries of a run (POST /trigger/runs/:id/retry): a retry is a new attempt of the same run.
alter table edgeflow.runs add column retries integer default 0 not null;

create table edgeflow.task_log_stats (
  task_id uuid not null,
  run_id uuid not null,
  lines integer default 0 not null,
  bytes bigint default 0 not null,
  dropped integer default 0 not null,
  tokens double precision not null,
  tokens_at timestamp with time zone not null,
  constraint task_log_stats_pkey PRIMARY KEY (task_id),
  constraint task_log_stats_task_id_fkey FOREIGN KEY (task_id) REFERENCES edgeflow.tasks(id) ON DELETE CASCADE
);
CREATE INDEX task_log_stats_run ON edgeflow.task_log_stats USING btree (run_id);

create table edgeflow.task_logs (
  id bigint generated always as identity not null,
  at timestamp with time zone not null,
  run_id uuid not null,
  step text not null,
  task_id uuid not null,
  attempt integer not null,
  level text not null,
  message text not null,
  fields jsonb,
  constraint task_logs_pkey PRIMARY KEY (id, at),
  constraint task_logs_level_check CHECK ((level = ANY (ARRAY['debug'::text, 'info'::text, 'warn'::text, 'error'::text])))
);
CREATE INDEX task_logs_run ON edgeflow.task_logs USING btree (run_id, id);

-- from sql/functions/edgeflow.append_task_logs.sql
-- Store log lines a worker shipped for a task, fenced by the task's lease:
-- only the current lease of a RUNNING task may log ({"error":"stale_lease"}
-- otherwise, and nothing is stored). `p_lines` is a JSON array of
-- {"level","message","fields"}; `p_dropped` counts lines the worker itself
-- had to drop (its buffer was full). Returns {"accepted","dropped",
-- "dropped_total","lines_total"}.
--
-- Bounds per task, all attempts together: 10,000 lines, 4 MiB (message plus
-- fields), and a token bucket of 1,000 lines refilled at 100 lines/s. 100
-- lines/s is a chatty loop; 10,000 lines of ~400 B is a page a reader can
-- still scroll, and a map step of 1,000 such tasks stays at 4 GB worst case
-- rather than unbounded. A message is cut at 8 KiB and fields over 8 KiB are
-- replaced by {"truncated": <bytes>}. Lines over a bound are counted in
-- task_log_stats.dropped, never silently lost.
--
-- Lines of one run are written one transaction at a time (an advisory lock
-- per run, taken before any id is drawn), so a run's ids become visible in
-- id order and a reader resuming after id N cannot miss a line committed
-- later with a smaller id (run_events needs a 5 s margin for that; this
-- does not). Without the lock a reader following six tasks that logged at
-- once missed 40 of 600 lines (tests/api/logs_test.ts, 3 runs of 3); with it
-- eight tasks of one run appending in parallel took 8.6 ms a call against
-- 9.9 ms one at a time (10 lines a call, a loaded 2-core machine): the
-- serialisation costs the insert itself, not the round trip.
CREATE OR REPLACE FUNCTION edgeflow.append_task_logs(p_task_id uuid, p_lease uuid, p_lines jsonb, p_dropped integer DEFAULT 0)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  c_max_lines constant integer := 10000;
  c_max_bytes constant bigint := 4 * 1024 * 1024;
  c_burst constant double precision := 1000;
  c_rate constant double precision := 100;
  c_max_text constant integer := 8192;
  t record;
  st record;
  v_now timestamptz := edgeflow.now();
  v_tokens double precision;
  v_given integer := coalesce(jsonb_array_length(p_lines), 0);
  v_accepted integer;
  v_bytes bigint;
  v_dropped integer;
begin
  select id, run_id, slug, attempts, status, lease into t
    from edgeflow.tasks where id = p_task_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if t.status <> 'RUNNING' or t.lease is distinct from p_lease then
    return jsonb_build_object('error', 'stale_lease');
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.logs:' || t.run_id));

  insert into edgeflow.task_log_stats (task_id, run_id, tokens, tokens_at)
  values (t.id, t.run_id, c_burst, v_now)
  on conflict (task_id) do nothing;
  select * into st from edgeflow.task_log_stats where task_id = t.id for update;
  v_tokens := least(c_burst, st.tokens + c_rate * greatest(0, extract(epoch from v_now - st.tokens_at)));

  -- The accepted lines are a prefix: every bound grows with the line number.
  with given as (
    select l.ord,
           case when l.v ->> 'level' in ('debug', 'info', 'warn', 'error')
                then l.v ->> 'level' else 'info' end as level,
           left(coalesce(l.v ->> 'message', ''), c_max_text) as message,
           case when jsonb_typeof(l.v -> 'fields') <> 'object' then null
                when octet_length((l.v -> 'fields')::text) > c_max_text
                  then jsonb_build_object('truncated', octet_length((l.v -> 'fields')::text))
                else l.v -> 'fields' end as fields
      from jsonb_array_elements(case when jsonb_typeof(p_lines) = 'array' then p_lines
                                     else '[]' end) with ordinality as l(v, ord)
  ), sized as (
    select g.*, sum(octet_length(g.message) + coalesce(octet_length(g.fields::text), 0))
                  over (order by g.ord) as cum_bytes
      from given g
  ), kept as (
    select * from sized s
     where s.ord <= floor(v_tokens)
       and st.lines + s.ord <= c_max_lines
       and st.bytes + s.cum_bytes <= c_max_bytes
  ), ins as (
    insert into edgeflow.task_logs (at, run_id, step, task_id, attempt, level, message, fields)
    select v_now, t.run_id, t.slug, t.id, t.attempts, k.level, k.message, k.fields
      from kept k order by k.ord
    returning 1
  )
  select (select count(*) from ins), coalesce((select max(k.cum_bytes) from kept k), 0)
    into v_accepted, v_bytes;

  v_dropped := v_given - v_accepted + greatest(coalesce(p_dropped, 0), 0);
  update edgeflow.task_log_stats
     set lines = lines + v_accepted, bytes = bytes + v_bytes, dropped = dropped + v_dropped,
         tokens = v_tokens - v_accepted, tokens_at = v_now
   where task_id = t.id
  returning * into st;
  return jsonb_build_object('accepted', v_accepted, 'dropped', v_dropped,
                            'dropped_total', st.dropped, 'lines_total', st.lines);
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
-- subflow_child | limit_full | nothing_to_retry, …}, changing nothing.
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
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, r.id, r.id);
  end if;

  -- A step whose unfinished tasks cannot simply go again (none left, or it
  -- is re-run from scratch) loses its tasks and starts over when ready.
  v_fresh := v_fresh || array(
    select ss.slug from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.slug = any (v_rerun)
       and not exists (select 1 from edgeflow.tasks t where t.run_id = p_run_id
                          and t.slug = ss.slug and t.status <> 'COMPLETED'));
  delete from edgeflow.slots
   where holder in (select id from edgeflow.tasks
                     where run_id = p_run_id and slug = any (v_fresh));
  delete from edgeflow.tasks where run_id = p_run_id and slug = any (v_fresh);
  update edgeflow.step_states
     set status = 'PENDING', output = null, error = null, remaining_tasks = null,
         total_tasks = null, queued_at = null, started_at = null, ended_at = null
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

-- from sql/functions/edgeflow.run_json.sql
CREATE OR REPLACE FUNCTION edgeflow.run_json(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', r.id, 'status', r.status, 'flow', r.flow_name, 'version', r.version,
    'deployment', d.name, 'pool', r.pool, 'queue', r.queue, 'tags', to_jsonb(r.tags),
    'parameters', r.parameters, 'output', r.output, 'error', r.error,
    'idempotency_key', r.idempotency_key, 'retries', r.retries,
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

-- from sql/functions/edgeflow.run_logs.sql
-- A run's log lines after id `p_after` (at most `p_limit`), optionally only
-- of step `p_step`, task `p_task`, and level `p_level` or above (debug <
-- info < warn < error); the run's status; `last_id`, where the next read
-- resumes; and per task the lines dropped over its bounds. Read in one
-- snapshot. Unlike run_events no margin is needed at the live edge:
-- append_task_logs writes a run's lines one transaction at a time, so they
-- become visible in id order. Null when there is no run.
CREATE OR REPLACE FUNCTION edgeflow.run_logs(p_run_id uuid, p_after bigint, p_limit integer, p_step text DEFAULT NULL::text, p_task uuid DEFAULT NULL::uuid, p_level text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with levels(level, rank) as (
    values ('debug', 0), ('info', 1), ('warn', 2), ('error', 3)
  )
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'logs', coalesce(jsonb_agg(jsonb_build_object(
              'id', l.id, 'at', edgeflow.iso(l.at), 'step', l.step, 'task', l.task_id,
              'attempt', l.attempt, 'level', l.level, 'message', l.message,
              'fields', l.fields) order by l.id)
            filter (where l.id is not null), '[]'),
    'last_id', coalesce(max(l.id), p_after),
    'dropped', (
      select coalesce(jsonb_agg(jsonb_build_object('task', s.task_id, 'step', tk.slug,
                                                   'dropped', s.dropped) order by s.task_id),
                      '[]')
        from edgeflow.task_log_stats s
        join edgeflow.tasks tk on tk.id = s.task_id
       where s.run_id = r.id and s.dropped > 0
         and (p_step is null or tk.slug = p_step) and (p_task is null or s.task_id = p_task)))
    from edgeflow.runs r
    left join lateral (
      select * from edgeflow.task_logs tl
       where tl.run_id = r.id and tl.id > p_after
         and (p_step is null or tl.step = p_step)
         and (p_task is null or tl.task_id = p_task)
         and (p_level is null
              or (select rank from levels where level = tl.level)
                 >= (select rank from levels where level = p_level))
       order by tl.id limit p_limit) l on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;
