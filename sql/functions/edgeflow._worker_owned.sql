-- Whether the key `p_key_id` (admin: `p_admin`) may beat as `p_worker`: a
-- worker name belongs to the key that first used it (migration 0067), taken
-- here with insert … on conflict do nothing, so of two keys racing for a new
-- name exactly one wins; the loser reads the winner's row and is refused.
-- Admins may use any name. edgeflow.worker_heartbeat and
-- edgeflow.results_and_claims ask it.
CREATE OR REPLACE FUNCTION edgeflow._worker_owned(p_key_id uuid, p_admin boolean, p_worker text)
 RETURNS boolean
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
  return p_admin or v_owner is not distinct from p_key_id;
end
$function$;
