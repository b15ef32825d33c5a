-- The deployment as a deploy plans against it: paused flag, schedules in
-- body order, and a version that changes whenever any of it changes. The
-- read the API makes before planning, and what a conflicting deploy returns.
CREATE OR REPLACE FUNCTION edgeflow.deploy_state(p_name text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce((
    select jsonb_build_object(
      'version', pg_catalog.md5(d.id::text || '|' || d.paused::text || '|' || coalesce((
        select pg_catalog.string_agg(
                 s.id::text || '|' || s.position || '|' || s.spec::text || '|' || s.active
                 || '|' || coalesce(edgeflow.iso(s.next_fire_at), '-') || '|'
                 || edgeflow.iso(s.created_at), ';' order by s.position, s.id)
          from edgeflow.schedules s where s.deployment_id = d.id), '')),
      'paused', d.paused,
      'schedules', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'id', s.id, 'spec', s.spec, 'active', s.active,
                 'next_fire_at', edgeflow.iso(s.next_fire_at),
                 'created_at', edgeflow.iso(s.created_at)) order by s.position, s.id)
          from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb))
      from edgeflow.deployments d where d.name = p_name),
    jsonb_build_object('version', 'none', 'paused', false, 'schedules', '[]'::jsonb));
$function$;
