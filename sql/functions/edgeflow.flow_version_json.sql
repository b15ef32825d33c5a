CREATE OR REPLACE FUNCTION edgeflow.flow_version_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', v.id, 'name', v.flow_name, 'version', v.version, 'version_group', v.version_group,
    'hash', v.hash, 'idempotency_key', v.idempotency_key, 'archived', v.archived,
    'archived_at', edgeflow.iso(v.archived_at), 'created_at', edgeflow.iso(v.created_at),
    'description', v.definition -> 'description', 'entrypoint', v.definition -> 'entrypoint',
    'image', v.definition -> 'image', 'tags', v.definition -> 'tags',
    'parameters', v.definition -> 'parameters', 'settings', v.settings,
    'steps', v.definition -> 'steps')
    from edgeflow.flow_versions v where v.id = p_id;
$function$;
