-- Start the child run of one QUEUED subflow task. The caller holds the
-- parent run's row lock. Returns 'started' or 'failed' (the run failed).
CREATE OR REPLACE FUNCTION edgeflow._start_subflow_task(p_task_id uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;
