-- Heartbeat as the key `p_key_id` (admin: `p_admin`). The binding is taken
-- with insert … on conflict do nothing, so of two keys racing for a new name
-- exactly one wins; the loser reads the winner's row and is refused.
CREATE OR REPLACE FUNCTION edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_found boolean;
  v_owner uuid;
begin
  select true, o.key_id into v_found, v_owner
    from edgeflow.worker_owners o where o.worker = p_worker;
  if v_found is null then
    insert into edgeflow.worker_owners (worker, key_id) values (p_worker, p_key_id)
    on conflict (worker) do nothing;
    select true, o.key_id into v_found, v_owner
      from edgeflow.worker_owners o where o.worker = p_worker;
  end if;
  if not p_admin and v_owner is distinct from p_key_id then
    return json_build_object('error', 'worker_name_taken');
  end if;
  return edgeflow.heartbeat(p_worker, p_pool, p_handlers, p_capacity, p_running,
                            p_heartbeat_seconds);
end
$function$;
