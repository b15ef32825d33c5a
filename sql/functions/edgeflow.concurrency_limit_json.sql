-- Tag-based limits (Prefect's `concurrencyLimitOptions`): read model.
CREATE OR REPLACE FUNCTION edgeflow.concurrency_limit_json(p_tag text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'tag', l.tag, 'limit', l."limit",
    'active_slots', (select count(*)::integer from edgeflow.slots s
                      where s.limit_key = 'tag:' || l.tag),
    'holders', coalesce((select jsonb_agg(jsonb_build_object(
                   'task', s.holder, 'run_id', s.run_id,
                   'acquired_at', edgeflow.iso(s.acquired_at)) order by s.acquired_at)
                 from (select * from edgeflow.slots s where s.limit_key = 'tag:' || l.tag
                        order by s.acquired_at limit 1000) s), '[]'),
    'created_at', edgeflow.iso(l.created_at), 'updated_at', edgeflow.iso(l.updated_at))
    from edgeflow.concurrency_limits l where l.tag = p_tag;
$function$;
