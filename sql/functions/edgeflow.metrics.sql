-- What GET /metrics reports from the database, in one snapshot:
--   runs: [{status, count}] (all retained runs, by an index-only scan of runs_status_newest),
--   queues: [{pool, handler, queued, ready, oldest_seconds, served}] (QUEUED tasks through
--     tasks_live; oldest_seconds: age of the oldest task whose retry wait is over;
--     served: an online worker serves the handler, as waiting_for's no_worker),
--   workers: [{pool, online}] (heartbeat within 3 intervals, as _handler_online),
--   counters: {name: value} (edgeflow.maintenance_counters),
--   late: [{deployment, count}]: runs not started p_late_seconds after their
--     scheduled time (ad hoc and triggered runs: their creation), through runs_status_newest.
CREATE OR REPLACE FUNCTION edgeflow.metrics(p_late_seconds integer DEFAULT 60)
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
                 'oldest_seconds', x.oldest,
                 'served', edgeflow._handler_online(x.pool, x.handler)) order by x.pool, x.handler), '[]')
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
                   from edgeflow.maintenance_counters c),
    'late', (select coalesce(jsonb_agg(jsonb_build_object('deployment', x.name, 'count', x.n)
                                       order by x.name), '[]')
               from (select d.name, count(*) as n
                       from edgeflow.runs r left join edgeflow.deployments d on d.id = r.deployment_id
                      where r.status in ('SCHEDULED', 'PENDING')
                        and coalesce(r.scheduled_time, r.created_at)
                            < edgeflow.now() - make_interval(secs => p_late_seconds)
                      group by d.name) x));
$function$;
