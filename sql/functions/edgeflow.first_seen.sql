-- Record `p_key` for `p_ttl_ms`; true on its first sighting (or once its
-- previous record expired), false for a duplicate. Atomic under concurrency:
-- the primary key makes one of two racing inserts wait for the other.
CREATE OR REPLACE FUNCTION edgeflow.first_seen(p_key text, p_ttl_ms integer)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with hit as (
    insert into edgeflow.duplicate_keys as d (key, expires_at)
    values (p_key, edgeflow.now() + make_interval(secs => p_ttl_ms / 1000.0))
    on conflict (key) do update set expires_at = excluded.expires_at
     where d.expires_at <= edgeflow.now()
    returning 1)
  select exists (select 1 from hit);
$function$;
