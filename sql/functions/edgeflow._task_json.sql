-- plpgsql, not sql: a SQL-language function with a SET clause is planned
-- anew on every call (0.8 ms here, the most expensive part of a claim);
-- plpgsql keeps the plan for the session.
CREATE OR REPLACE FUNCTION edgeflow._task_json(p_task_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (select jsonb_build_object(
    'task', t.id, 'lease', t.lease, 'run_id', t.run_id, 'flow', r.flow_name,
    'step', t.slug, 'handler', fs.handler, 'attempt', t.attempts,
    'max_attempts', t.max_attempts, 'task_index', t.task_index,
    'lease_expires_at', edgeflow.iso(t.lease_expires_at),
    'input', jsonb_build_object(
      'run', r.parameters,
      'deps', coalesce((select jsonb_object_agg(d.slug, d.output) from edgeflow.step_states d
                         where d.run_id = t.run_id and d.slug = any(fs.depends_on)), '{}'),
      'args', fs.args)
      || case when fs.map_from is null then '{}'::jsonb
              else jsonb_build_object('item', t.item) end)
    from edgeflow.tasks t
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
   where t.id = p_task_id);
end
$function$;
