-- Every concurrency limit (tag limits, pool, queue and deployment limits)
-- with the slots held under it, or null when this database has no slots
-- table (the concurrency migrations are not applied).
CREATE OR REPLACE FUNCTION edgeflow.ui_concurrency()
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  if pg_catalog.to_regclass('edgeflow.slots') is null
     or pg_catalog.to_regclass('edgeflow.concurrency_limits') is null then
    return null;
  end if;
  return (
    with held as (
      select s.limit_key, count(*)::integer as n from edgeflow.slots s group by s.limit_key
    ), limits as (
      select 'tag' as kind, l.tag as name, 'tag:' || l.tag as key, l."limit" as lim
        from edgeflow.concurrency_limits l
      union all
      select 'pool', p.name, 'pool:' || p.name, p.concurrency_limit
        from edgeflow.pools p where p.concurrency_limit is not null
      union all
      select 'queue', q.pool || '/' || q.name, 'queue:' || q.pool || '/' || q.name,
             q.concurrency_limit
        from edgeflow.pool_queues q where q.concurrency_limit is not null
      union all
      select 'deployment', d.name, 'deployment:' || d.id, d.concurrency_limit
        from edgeflow.deployments d where d.concurrency_limit is not null
    )
    select coalesce(jsonb_agg(jsonb_build_object('kind', l.kind, 'name', l.name, 'key', l.key,
                                                 'limit', l.lim, 'in_use', coalesce(h.n, 0))
                              order by l.kind, l.name), '[]')
      from (select * from limits order by kind, name limit 1000) l
      left join held h on h.limit_key = l.key);
exception
  -- The concurrency tables changed shape under us: show none rather than fail the page.
  when undefined_table or undefined_column then
    return null;
end
$function$;
