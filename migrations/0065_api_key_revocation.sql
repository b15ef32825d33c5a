-- Keys can be listed and revoked through the API (GET / DELETE /deploy/keys).
-- A revoked key keeps its row (who had access, and until when) but stops
-- working at once: authentication reads the row on every request, nothing
-- caches it. `last_used_at` is refreshed at most every few minutes by the
-- auth path (shared/app/key_store.ts), so it costs no write per request.
alter table edgeflow.api_keys
  add column revoked_at timestamptz,
  add column last_used_at timestamptz;

update edgeflow.api_keys set revoked_at = created_at where revoked and revoked_at is null;

-- A key as the API shows it: never the secret (not stored) nor its hash.
create function edgeflow.api_key_json(k edgeflow.api_keys)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'id', k.id, 'name', k.name, 'prefix', k.prefix, 'scopes', pg_catalog.to_jsonb(k.scopes),
    'created_at', edgeflow.iso(k.created_at), 'expires_at', edgeflow.iso(k.expires_at),
    'last_used_at', edgeflow.iso(k.last_used_at), 'revoked', k.revoked,
    'revoked_at', edgeflow.iso(k.revoked_at));
$$;
