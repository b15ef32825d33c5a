-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
CREATE OR REPLACE FUNCTION edgeflow.upsert_deployment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.flows where name = p ->> 'flow') then
    return jsonb_build_object('error', 'unknown_flow', 'path', 'flow');
  end if;
  if jsonb_typeof(p -> 'version') = 'number' and not exists (
       select 1 from edgeflow.flow_versions
        where flow_name = p ->> 'flow' and version = (p ->> 'version')::int) then
    return jsonb_build_object('error', 'unknown_version', 'path', 'version');
  end if;
  if not exists (select 1 from edgeflow.pools where name = p ->> 'pool') then
    return jsonb_build_object('error', 'unknown_pool', 'path', 'pool');
  end if;
  insert into edgeflow.pool_queues (pool, name) values (p ->> 'pool', p ->> 'queue')
  on conflict do nothing;
  insert into edgeflow.deployments as d (name, flow_name, version_pin, pool, queue, description,
                                         parameters, tags, concurrency_limit, collision_strategy,
                                         paused, job_variables, retention_days, triggers,
                                         cancel_on, concurrency)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'),
          (p ->> 'retention_days')::int,
          coalesce(p -> 'triggers', '[]'), coalesce(p -> 'cancel_on', '[]'),
          coalesce(p -> 'concurrency', '[]'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, retention_days = excluded.retention_days,
         triggers = excluded.triggers, cancel_on = excluded.cancel_on,
         concurrency = excluded.concurrency,
         updated_at = edgeflow.now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  -- The queues of the version it runs, made now rather than by its first run
  -- (edgeflow._make_flow_queues).
  perform edgeflow._make_flow_queues(v.id, p ->> 'pool', p ->> 'queue')
     from (select fv.id from edgeflow.flow_versions fv
             join edgeflow.deployments d on d.id = v_id
            where fv.flow_name = d.flow_name
              and (d.version_pin is null or fv.version = d.version_pin)
            order by (d.version_pin is null and fv.archived), fv.version desc
            limit 1) v;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$function$;
