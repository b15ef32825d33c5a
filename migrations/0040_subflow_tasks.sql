-- Subflows, part 1: how a step with `deployment` runs. Its tasks never enter
-- a worker queue. Starting one starts a run of the child deployment in the
-- same transaction; the task is then RUNNING with worker 'subflow', no lease
-- and no lease expiry, so no worker slot is held and the lease sweep never
-- touches it. The child's end settles the task (0042).
--
-- The child's parameters ("the step's input as parameters"): the child
-- deployment's defaults, overlaid by the step's static `args` (an object),
-- overlaid for a map task by {"item": <element>}. That is an object a JSON
-- Schema on the child validates like any trigger's parameters. SQL cannot run
-- the JSON Schema validator, so only the schema's top-level `required` keys
-- are checked here; a miss fails the step, not retried, with a clear error.
--
-- Subflow tasks live in their own pgmq queue, `ef_subflows`, which no worker
-- reads (it is not in handler_queues): a retry or a delayed start is a
-- message there, made visible at the task's `available_at` by the engine's
-- own _requeue (0006), and started by the tick (0043). Lazarus' resurrection
-- re-queues through the same _requeue, so it needs nothing special either.

alter table edgeflow.tasks add column subflow_run_id uuid;

select pgmq.create('ef_subflows');

-- Fail a subflow task that could not start a child (bad deployment, missing
-- parameters): the step and the run fail, not retried, because the next
-- attempt would meet the same deployment and the same parameters.
create function edgeflow._subflow_refuse(p_task_id uuid, p_error jsonb)
returns void language plpgsql set search_path = '' as $$
declare
  t record;
begin
  select id, run_id, slug into t from edgeflow.tasks where id = p_task_id;
  update edgeflow.tasks
     set status = 'FAILED', attempts = attempts + 1, error = p_error, msg_id = null,
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, now()),
         ended_at = now()
   where id = p_task_id;
  perform edgeflow._fail_run(t.run_id, t.slug, p_error);
end
$$;

-- Start the child run of one QUEUED subflow task. The caller holds the
-- parent run's row lock. Returns 'started' or 'failed' (the run failed).
create function edgeflow._start_subflow_task(p_task_id uuid)
returns text language plpgsql set search_path = '' as $$
declare
  t record;
  s record;
  d jsonb;
  v_params jsonb;
  v_missing text[];
  v_error text;
  v_res jsonb;
  v_child uuid;
begin
  select tk.id, tk.run_id, tk.slug, tk.item, r.flow_version_id into t
    from edgeflow.tasks tk join edgeflow.runs r on r.id = tk.run_id
   where tk.id = p_task_id;
  select fs.deployment, fs.args, fs.map_from into s from edgeflow.flow_steps fs
   where fs.flow_version_id = t.flow_version_id and fs.slug = t.slug;
  d := edgeflow.deployment_target(s.deployment);
  v_error := case
    when d is null then format('deployment "%s" does not exist', s.deployment)
    when (d ->> 'paused')::boolean then format('deployment "%s" is paused', s.deployment)
    when d ->> 'version_id' is null then format('deployment "%s" has no flow version',
                                                 s.deployment)
    when (d ->> 'archived')::boolean then format(
      'deployment "%s" runs version %s of flow "%s", which is archived',
      s.deployment, d ->> 'version', d ->> 'flow')
    when s.args is not null and jsonb_typeof(s.args) not in ('object', 'null') then
      'the step''s args must be an object: they become the child run''s parameters'
  end;
  if v_error is null then
    v_params := coalesce(d -> 'parameters', '{}')
             || case when jsonb_typeof(s.args) = 'object' then s.args else '{}' end
             || case when s.map_from is null then '{}'::jsonb
                     else jsonb_build_object('item', t.item) end;
    if jsonb_typeof(d -> 'schema' -> 'required') = 'array' then
      select array_agg(k order by k) into v_missing
        from jsonb_array_elements_text(d -> 'schema' -> 'required') as k
       where not v_params ? k;
      if v_missing is not null then
        v_error := format('the child run of deployment "%s" misses required parameters: %s',
                          s.deployment, array_to_string(v_missing, ', '));
      end if;
    end if;
  end if;
  if v_error is not null then
    perform edgeflow._subflow_refuse(p_task_id, jsonb_build_object(
      'message', format('step "%s": %s', t.slug, v_error), 'code', 'subflow_refused',
      'deployment', s.deployment));
    return 'failed';
  end if;

  update edgeflow.tasks
     set status = 'RUNNING', attempts = attempts + 1, worker = 'subflow', msg_id = null,
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, now())
   where id = p_task_id;
  v_res := edgeflow.start_run((d ->> 'version_id')::uuid, v_params, jsonb_build_object(
    'deployment_id', d -> 'id', 'pool', d -> 'pool', 'queue', d -> 'queue',
    'tags', d -> 'tags', 'parent_task_id', p_task_id));
  if v_res ? 'error' then
    perform edgeflow._subflow_refuse(p_task_id, jsonb_build_object(
      'message', format('step "%s": deployment "%s" refused the child run (%s)',
                        t.slug, s.deployment, v_res ->> 'error'),
      'code', 'subflow_refused', 'deployment', s.deployment));
    return 'failed';
  end if;
  v_child := (v_res ->> 'run_id')::uuid;
  update edgeflow.tasks set subflow_run_id = v_child where id = p_task_id;
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, now())
   where id = t.run_id and status in ('PENDING', 'SCHEDULED');
  update edgeflow.step_states set status = 'RUNNING', started_at = now()
   where run_id = t.run_id and slug = t.slug and status = 'QUEUED';
  -- A child may end at birth (collision strategy cancel_new, a grandchild
  -- refused): its end trigger fired before the task knew its child, so the
  -- end is taken here.
  if exists (select 1 from edgeflow.runs where id = v_child
                and status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')) then
    perform edgeflow._subflow_child_ended(v_child);
  end if;
  return 'started';
end
$$;

-- A child run ended: settle its parent task through the engine's own
-- complete_task / fail_task (map fan-in, dependents, retries with backoff,
-- run failure: one code path for workers and subflows). The task holds no
-- worker lease, so a fresh one is minted inside this transaction only.
--
-- Lock order: the caller holds the child's run row; the parent's is taken
-- here. Runs are locked bottom-up (child, then parent) by every blocking
-- path; the only top-down path (a parent ending cancels its children, 0042)
-- takes child rows with skip locked and never waits, so the two cannot form
-- a cycle. A child that was skipped is cancelled by the tick (0043).
create function edgeflow._subflow_child_ended(p_child uuid)
returns void language plpgsql set search_path = '' as $$
declare
  c record;
  t record;
  v_lease uuid := gen_random_uuid();
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
    -- A cancelled child was stopped on purpose: retrying would undo that.
    perform edgeflow.fail_task(t.id, v_lease, jsonb_build_object(
      'message', format('child run %s of deployment "%s" ended %s%s', c.id, c.deployment,
                        c.status, coalesce(': ' || (c.error ->> 'message'), '')),
      'code', 'subflow_failed', 'child_run_id', c.id, 'child_status', c.status,
      'child_error', c.error), c.status <> 'CANCELLED');
  end if;
end
$$;
