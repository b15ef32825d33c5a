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
