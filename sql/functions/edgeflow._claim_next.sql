-- The `next` of a batch of results (edgeflow.complete_tasks_and_claim and
-- edgeflow.fail_tasks_and_claim): the worker's heartbeat claim as
-- edgeflow.worker_heartbeat makes it (no leases to extend), made after the
-- results in their transaction, so it sees what they made ready. Returns the
-- heartbeat's answer or its refusal ({"error": "worker_name_taken"}).
--
-- The commit must still wait for the WAL flush, as the results' must:
-- edgeflow.heartbeat turns synchronous_commit off for its transaction (a
-- heartbeat alone may be lost), so the setting the claim began with is put
-- back after it (migration 0260 fixed results committed asynchronously).
CREATE OR REPLACE FUNCTION edgeflow._claim_next(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sync text := pg_catalog.current_setting('synchronous_commit');
  v_next json;
begin
  v_next := edgeflow.worker_heartbeat(p_key_id, p_admin, p_worker, p_pool, p_handlers,
                                      p_capacity, '[]'::jsonb, p_heartbeat_seconds);
  perform pg_catalog.set_config('synchronous_commit', v_sync, true);
  return v_next;
end
$function$;
