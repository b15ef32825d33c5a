CREATE OR REPLACE FUNCTION edgeflow.pool_json(p_name text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'name', p.name, 'type', p.type, 'description', p.description,
    'concurrency_limit', p.concurrency_limit,
    'paused', p.paused, 'url', p.url,
    'queues', coalesce((select jsonb_agg(jsonb_build_object(
                 'name', q.name, 'priority', q.priority,
                 'concurrency_limit', q.concurrency_limit, 'paused', q.paused) order by q.name)
               from edgeflow.pool_queues q where q.pool = p.name), '[]'),
    'created_at', edgeflow.iso(p.created_at), 'updated_at', edgeflow.iso(p.updated_at))
    from edgeflow.pools p where p.name = p_name;
$function$;
