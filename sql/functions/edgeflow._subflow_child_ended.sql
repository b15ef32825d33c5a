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
CREATE OR REPLACE FUNCTION edgeflow._subflow_child_ended(p_child uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;
