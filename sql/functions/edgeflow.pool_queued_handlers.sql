-- Queued tasks of a pool by handler, and whether an online worker serves
-- each: [{handler, queued, served}], by handler name. One pass over the
-- live tasks (`tasks_live` holds only QUEUED and RUNNING rows).
CREATE OR REPLACE FUNCTION edgeflow.pool_queued_handlers(p_pool text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'handler', x.handler, 'queued', x.n,
           'served', edgeflow._handler_online(p_pool, x.handler)) order by x.handler), '[]')
    from (select h.handler, count(*)::integer as n
            from edgeflow.tasks t
            join edgeflow.handler_queues h on h.queue_name = t.queue_name
           where h.pool = p_pool and t.status = 'QUEUED'
           group by h.handler) x;
$function$;
