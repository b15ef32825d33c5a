-- One schedule's target, as due_schedules describes it (QStash callbacks).
CREATE OR REPLACE FUNCTION edgeflow.schedule_target(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
           'id', s.id, 'spec', s.spec, 'active', s.active, 'paused', d.paused,
           'parameters', d.parameters || s.parameters, 'pool', d.pool,
           'version_id', v.id, 'schema', v.definition -> 'parameters')
    from edgeflow.schedules s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where s.id = p_id;
$function$;
