-- A key as the API shows it: never the secret (not stored) nor its hash.
CREATE OR REPLACE FUNCTION edgeflow.api_key_json(k edgeflow.api_keys)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', k.id, 'name', k.name, 'prefix', k.prefix, 'scopes', pg_catalog.to_jsonb(k.scopes),
    'created_at', edgeflow.iso(k.created_at), 'expires_at', edgeflow.iso(k.expires_at),
    'last_used_at', edgeflow.iso(k.last_used_at), 'revoked', k.revoked,
    'revoked_at', edgeflow.iso(k.revoked_at));
$function$;
