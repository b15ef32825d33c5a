-- Subflows, part 6: child runs are started one statement at a time, by the
-- TypeScript driver in shared/engine/subflows.ts, and never nested deeper
-- than edgeflow.max_run_depth().
--
-- Why not in SQL, inside the statement that made the step ready (0040/0041
-- did that): (1) a deployment step that leads back to its own deployment
-- recursed start_run → _start_steps → _start_subflow_task → start_run inside
-- ONE statement, without bound: on Postgres a new run every tick for ever,
-- on PGlite a stack overflow that left the embedded database broken; (2) the
-- child's parameters must be checked against the child flow's FULL JSON
-- Schema and built from the step's `parameters` template, which SQL cannot
-- do (0040 checked only top-level `required`).
--
-- So a ready subflow task is only marked due: a message in `ef_subflows`,
-- visible at once, and the transaction-local flag `edgeflow.subflows_due`
-- that the TypeScript callers (startRun, completeTask, completeTasks, the
-- tick) read in the same statement to know they should run the driver. The
-- driver claims due tasks (claim_subflow_starts: the materials of each
-- child's parameters), builds and validates the parameters, and starts each
-- child in its own statement (start_subflow_task), or fails the step with
-- the schema errors. The child's own subflow steps are then due in turn: the
-- driver loops, one level per round, so nesting is iteration, not recursion,
-- and the depth limit ends a self-calling chain after max_run_depth rounds.
-- A message the driver could not finish (process gone) is visible again
-- after 30 s and the tick's driver takes it.

-- How deep runs may nest below a top-level run (depth 0): its children are
-- depth 1. `edgeflow.max_run_depth` as a Postgres setting (`alter database …
-- set edgeflow.max_run_depth = 8`, or per role/session), default 16.
create function edgeflow.max_run_depth()
returns integer language plpgsql stable set search_path = '' as $$
declare
  v text := pg_catalog.current_setting('edgeflow.max_run_depth', true);
begin
  return case when v ~ '^\s*[0-9]{1,6}\s*$' then v::integer else 16 end;
end
$$;

-- How many parent links lead up from a run to its top-level ancestor.
create function edgeflow.run_depth(p_run_id uuid)
returns integer language sql stable set search_path = '' as $$
  with recursive up (run_id, depth) as (
    select p_run_id, 0
    union all
    select pt.run_id, up.depth + 1
      from up
      join edgeflow.runs r on r.id = up.run_id
      join edgeflow.tasks pt on pt.id = r.parent_task_id
     where up.depth < 10000)
  select max(depth) from up;
$$;

-- Whether a statement of this transaction marked a subflow task due.
create function edgeflow.subflows_due()
returns boolean language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.current_setting('edgeflow.subflows_due', true), '') = 'on';
$$;

-- Replaces 0040's: a ready subflow task is marked due, not started here
-- (see the header). _start_steps_unguarded (0041) calls it unchanged.
create or replace function edgeflow._start_subflow_task(p_task_id uuid)
returns text language plpgsql set search_path = '' as $$
declare
  v_run uuid;
begin
  select run_id into v_run from edgeflow.tasks where id = p_task_id;
  update edgeflow.tasks
     set msg_id = (select pgmq.send('ef_subflows',
                                    jsonb_build_object('task', p_task_id, 'run', v_run), 0))
   where id = p_task_id;
  perform pg_catalog.set_config('edgeflow.subflows_due', 'on', true);
  return 'due';
end
$$;

-- What keeps a subflow task from starting a child, checked before the
-- parameters are built and again when the child starts; null when nothing.
create function edgeflow._subflow_start_problem(p_run_id uuid, p_slug text, p_deployment text,
                                                p_args jsonb, d jsonb)
returns jsonb language plpgsql stable set search_path = '' as $$
declare
  v_depth integer;
  v_max integer := edgeflow.max_run_depth();
  v_error text;
begin
  v_error := case
    when d is null then format('deployment "%s" does not exist', p_deployment)
    when (d ->> 'paused')::boolean then format('deployment "%s" is paused', p_deployment)
    when d ->> 'version_id' is null then format('deployment "%s" has no flow version',
                                                 p_deployment)
    when (d ->> 'archived')::boolean then format(
      'deployment "%s" runs version %s of flow "%s", which is archived',
      p_deployment, d ->> 'version', d ->> 'flow')
    when p_args is not null and jsonb_typeof(p_args) not in ('object', 'null') then
      'the step''s args must be an object: they become the child run''s parameters'
  end;
  if v_error is not null then
    return jsonb_build_object('message', format('step "%s": %s', p_slug, v_error),
                              'code', 'subflow_refused', 'deployment', p_deployment);
  end if;
  v_depth := edgeflow.run_depth(p_run_id) + 1;
  if v_depth > v_max then
    return jsonb_build_object(
      'message', format('step "%s": a child run of deployment "%s" would be nested %s deep, '
                        'over the limit of %s (setting edgeflow.max_run_depth); '
                        'does the deployment lead back to itself?',
                        p_slug, p_deployment, v_depth, v_max),
      'code', 'subflow_depth_exceeded', 'deployment', p_deployment, 'max_depth', v_max);
  end if;
  return null;
end
$$;

-- Claim up to p_limit due subflow tasks for the driver (their messages are
-- invisible to other drivers for 30 s): for each, what its child's
-- parameters are made of (the deployment's defaults, the step's args and
-- `parameters` template, the run's parameters, the dependencies' outputs,
-- the map element) and the child flow's schema, or the `error` that fails
-- the step without a child. Messages of tasks that moved on are deleted;
-- those not due yet are put back to their time.
create function edgeflow.claim_subflow_starts(p_limit integer default 100)
returns jsonb language plpgsql set search_path = '' as $$
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
    if t.available_at > now() then
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
$$;

-- Start the child of one claimed subflow task with the parameters the
-- driver built and validated against version p_version_id's schema, or fail
-- the step with p_error (bad deployment, depth, template or schema errors).
-- → {"status": "started", "run_id"} | {"status": "failed"} | {"status": "stale"}
--   | {"status": "again"} (the deployment now runs another version: the
--   message is visible at once and the driver builds the parameters anew).
create function edgeflow.start_subflow_task(p_task_id uuid, p_msg_id bigint,
                                            p_version_id uuid, p_params jsonb, p_error jsonb)
returns jsonb language plpgsql set search_path = '' as $$
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
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, now())
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
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, now())
   where id = t.run_id and status in ('PENDING', 'SCHEDULED');
  update edgeflow.step_states set status = 'RUNNING', started_at = now()
   where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
  -- A child may end at birth (collision strategy cancel_new): its end
  -- trigger fired before the task knew its child, so the end is taken here.
  if exists (select 1 from edgeflow.runs where id = v_child
                and status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')) then
    perform edgeflow._subflow_child_ended(v_child);
  end if;
  return jsonb_build_object('status', 'started', 'run_id', v_child);
end
$$;

-- 0040's, with one change: a child that failed because the nesting depth
-- limit was reached fails its parent step for good (code
-- subflow_depth_exceeded, passed up the chain): retrying would only build
-- the same chain again, max_attempts times per level.
create or replace function edgeflow._subflow_child_ended(p_child uuid)
returns void language plpgsql set search_path = '' as $$
declare
  c record;
  t record;
  v_lease uuid := gen_random_uuid();
  v_depth boolean;
begin
  select r.id, r.status, r.output, r.error, r.parent_task_id, d.name as deployment into c
    from edgeflow.runs r left join edgeflow.deployments d on d.id = r.deployment_id
   where r.id = p_child;
  perform 1 from edgeflow.runs
   where id = (select run_id from edgeflow.tasks where id = c.parent_task_id) for update;
  select id, status, subflow_run_id into t from edgeflow.tasks
   where id = c.parent_task_id for update;
  if t.id is null or t.status <> 'RUNNING' or t.subflow_run_id is distinct from p_child then
    return;  -- a stale child (cancelled, or replaced by a retry) or not a subflow
  end if;
  -- The parent step owns retries: a crashed child is not also resurrected.
  update edgeflow.runs set lazarus_due = false where id = p_child and lazarus_due;
  update edgeflow.tasks set lease = v_lease where id = t.id;
  if c.status = 'COMPLETED' then
    perform edgeflow.complete_task(t.id, v_lease, c.output);
  else
    v_depth := c.error ->> 'code' = 'subflow_depth_exceeded';
    -- A cancelled child was stopped on purpose: retrying would undo that.
    perform edgeflow.fail_task(t.id, v_lease, jsonb_build_object(
      'message', format('child run %s of deployment "%s" ended %s%s', c.id, c.deployment,
                        c.status, coalesce(': ' || (c.error ->> 'message'), '')),
      'code', case when v_depth then 'subflow_depth_exceeded' else 'subflow_failed' end,
      'child_run_id', c.id, 'child_status', c.status,
      'child_error', c.error), c.status <> 'CANCELLED' and not v_depth);
  end if;
end
$$;

-- Replaces 0043's: due subflow tasks are started by the driver now (the
-- tick runs it, shared/engine/subflows.ts); what is left here is the safety
-- net for orphaned children.
create or replace function edgeflow.subflow_tick(p_limit integer default 100)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_id uuid;
  v_orphans integer := 0;
begin
  for v_id in
    select c.id from edgeflow.runs c
      join edgeflow.tasks pt on pt.id = c.parent_task_id
     where c.parent_task_id is not null
       and c.status in ('SCHEDULED', 'PENDING', 'RUNNING')
       and pt.queue_name = 'ef_subflows'
       and (pt.status <> 'RUNNING' or pt.subflow_run_id is distinct from c.id)
     order by c.created_at limit p_limit
       for update of c skip locked
  loop
    perform edgeflow.cancel_run(v_id);
    v_orphans := v_orphans + 1;
  end loop;
  return jsonb_build_object('started', 0, 'orphans_cancelled', v_orphans);
end
$$;
