-- Serialise slot counting for one limit key until the transaction ends.
CREATE OR REPLACE FUNCTION edgeflow._slot_lock(p_key text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.slot:' || p_key));
end
$function$;
