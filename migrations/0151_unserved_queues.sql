-- unserved_queues: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.unserved_queues.sql
-- Queues with work and no online worker for their handler (the dashboard's
-- warning, issue 15): [{pool, handler, queued, oldest_seconds}] of QUEUED
-- tasks through tasks_live, where edgeflow._handler_online (what waiting_for's
-- no_worker says of one step) is false; most queued first, at most p_limit.
CREATE OR REPLACE FUNCTION edgeflow.unserved_queues(p_limit integer DEFAULT 20)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'pool', x.pool, 'handler', x.handler, 'queued', x.n, 'oldest_seconds', x.oldest)
           order by x.n desc, x.pool, x.handler), '[]')
    from (select h.pool, h.handler, count(*)::integer as n,
                 coalesce(extract(epoch from edgeflow.now() - min(t.available_at)
                            filter (where t.available_at <= edgeflow.now())), 0)::float8 as oldest
            from edgeflow.tasks t
            join edgeflow.handler_queues h on h.queue_name = t.queue_name
           where t.status = 'QUEUED'
           group by h.pool, h.handler
          having not edgeflow._handler_online(h.pool, h.handler)
           order by count(*) desc, h.pool, h.handler
           limit p_limit) x;
$function$;
