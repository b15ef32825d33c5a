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
