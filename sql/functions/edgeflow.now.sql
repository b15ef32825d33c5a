-- TEMPORARY stand-in until main's clock lands (replaced on merge).
CREATE OR REPLACE FUNCTION edgeflow.now()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.now();
$function$;
