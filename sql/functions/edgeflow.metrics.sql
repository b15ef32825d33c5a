-- What GET /metrics reports from the database, in one snapshot:
--   runs: [{status, count}] (all retained runs, by an index-only scan of runs_status_newest),
--   queues: [{pool, handler, queued, ready, oldest_seconds}] (QUEUED tasks through
--     tasks_live; oldest_seconds: age of the oldest task whose retry wait is over),
--   workers: [{pool, online}] (heartbeat within 3 intervals, as _handler_online),
--   counters: {name: value} (edgeflow.maintenance_counters).
CREATE OR REPLACE FUNCTION edgeflow.metrics()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'runs', (select coalesce(jsonb_agg(jsonb_build_object('status', x.status, 'count', x.n)
                                       order by x.status), '[]')
               from (select r.status, count(*) as n from edgeflow.runs r group by r.status) x),
    'queues', (select coalesce(jsonb_agg(jsonb_build_object(
                 'pool', x.pool, 'handler', x.handler, 'queued', x.n, 'ready', x.ready,
                 'oldest_seconds', x.oldest) order by x.pool, x.handler), '[]')
               from (select h.pool, h.handler, count(*) as n,
                            count(*) filter (where t.available_at <= edgeflow.now()) as ready,
                            coalesce(extract(epoch from edgeflow.now() - min(t.available_at)
                                       filter (where t.available_at <= edgeflow.now())), 0) as oldest
                       from edgeflow.tasks t
                       join edgeflow.handler_queues h on h.queue_name = t.queue_name
                      where t.status = 'QUEUED'
                      group by h.pool, h.handler) x),
    'workers', (select coalesce(jsonb_agg(jsonb_build_object('pool', p.name, 'online', (
                   select count(*) from edgeflow.workers w
                    where w.pool = p.name
                      and w.last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * w.heartbeat_seconds)))
                 order by p.name), '[]')
                from edgeflow.pools p),
    'counters', (select coalesce(jsonb_object_agg(c.name, c.value), '{}')
                   from edgeflow.maintenance_counters c));
$function$;
