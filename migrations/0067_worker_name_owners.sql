-- A worker name belongs to the key that first sent a heartbeat with it, so
-- one `worker` key cannot overwrite (or claim tasks as) another key's worker.
-- `key_id` null: the bootstrap EDGEFLOW_ADMIN_KEY (or auth disabled in dev).
-- Admin keys may heartbeat as any name (they can do everything anyway) and
-- never rebind it. Revoking a key (DELETE /deploy/keys/:id) frees its names.
--
-- Kept apart from edgeflow.workers so the check wraps edgeflow.heartbeat
-- instead of redefining it: still one statement, one round trip. A name
-- already bound costs one primary-key probe; the first heartbeat one insert.
create table edgeflow.worker_owners (
  worker text primary key,
  key_id uuid,
  bound_at timestamptz not null default now()
);

create index worker_owners_key_id on edgeflow.worker_owners (key_id);

-- Heartbeat as the key `p_key_id` (admin: `p_admin`). The binding is taken
-- with insert … on conflict do nothing, so of two keys racing for a new name
-- exactly one wins; the loser reads the winner's row and is refused.
create function edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text,
                                          p_pool text, p_handlers jsonb, p_capacity integer,
                                          p_running jsonb, p_heartbeat_seconds integer)
returns jsonb language plpgsql set search_path = '' as $$
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
    return jsonb_build_object('error', 'worker_name_taken');
  end if;
  return edgeflow.heartbeat(p_worker, p_pool, p_handlers, p_capacity, p_running,
                            p_heartbeat_seconds);
end
$$;
