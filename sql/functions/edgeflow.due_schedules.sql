-- Due schedules, soonest first, with what the tick needs to fire them: the
-- parameters of their runs (deployment defaults overlaid by the schedule's,
-- shallowly, as for a trigger) and the parameter schema of the version they
-- would run. Reads the partial index schedules_due only.
CREATE OR REPLACE FUNCTION edgeflow.due_schedules(p_until timestamp with time zone, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'spec', s.spec, 'next_fire_at', edgeflow.iso(s.next_fire_at),
           'resumed_at', edgeflow.iso(s.resumed_at),
           'parameters', d.parameters || s.parameters, 'pool', d.pool,
           'version_id', v.id, 'schema', v.definition -> 'parameters')
         order by s.next_fire_at, s.id), '[]')
    from (select * from edgeflow.schedules
           where active and not deployment_paused and next_fire_at <= p_until
           order by next_fire_at, id limit p_limit) s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true;
$function$;
