-- The deployment document (0010's, now with its schedules).
CREATE OR REPLACE FUNCTION edgeflow.deployment_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name,
    'version', coalesce(to_jsonb(d.version_pin), '"latest"'::jsonb),
    'pool', d.pool, 'queue', d.queue, 'description', d.description,
    'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'concurrency_limit', d.concurrency_limit, 'collision_strategy', d.collision_strategy,
    'paused', d.paused, 'job_variables', d.job_variables, 'retention_days', d.retention_days,
    'schedules', coalesce((
      select jsonb_agg(edgeflow.schedule_entry_json(s, d.paused) order by s.position)
        from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb),
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$function$;
