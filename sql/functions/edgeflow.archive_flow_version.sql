CREATE OR REPLACE FUNCTION edgeflow.archive_flow_version(p_name text, p_version integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  update edgeflow.flow_versions
     set archived = true, archived_at = coalesce(archived_at, edgeflow.now())
   where flow_name = p_name and version = p_version
  returning id into v_id;
  if v_id is null then
    return jsonb_build_object('error', 'not_found');
  end if;
  return jsonb_build_object('id', v_id, 'name', p_name, 'version', p_version, 'archived', true);
end
$function$;
