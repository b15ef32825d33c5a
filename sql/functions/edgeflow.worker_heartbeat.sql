-- Heartbeat as the key `p_key_id` (admin: `p_admin`): refused
-- ({"error": "worker_name_taken"}) when another key owns the name
-- (edgeflow._worker_owned).
CREATE OR REPLACE FUNCTION edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if not edgeflow._worker_owned(p_key_id, p_admin, p_worker) then
    return json_build_object('error', 'worker_name_taken');
  end if;
  return edgeflow.heartbeat(p_worker, p_pool, p_handlers, p_capacity, p_running,
                            p_heartbeat_seconds);
end
$function$;
