-- A schedule on its own (schedule routes): the entry plus its bookkeeping.
CREATE OR REPLACE FUNCTION edgeflow.schedule_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select edgeflow.schedule_entry_json(s, d.paused) || jsonb_build_object(
    'deployment', d.name, 'kind', s.kind, 'deployment_paused', d.paused,
    'last_error', s.last_error,
    'created_at', edgeflow.iso(s.created_at), 'updated_at', edgeflow.iso(s.updated_at))
    from edgeflow.schedules s join edgeflow.deployments d on d.id = s.deployment_id
   where s.id = p_id;
$function$;
