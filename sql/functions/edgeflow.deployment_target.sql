-- Everything a trigger needs in one round trip: the deployment, the version
-- it runs (pinned or newest unarchived) and the flow's parameter schema.
CREATE OR REPLACE FUNCTION edgeflow.deployment_target(p_name text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name, 'pool', d.pool, 'queue', d.queue,
    'paused', d.paused, 'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'version_id', v.id, 'version', v.version, 'archived', v.archived,
    'schema', v.definition -> 'parameters')
    from edgeflow.deployments d
    left join lateral (
      select fv.id, fv.version, fv.archived, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where d.name = p_name);
end
$function$;
