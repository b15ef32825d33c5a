CREATE OR REPLACE FUNCTION edgeflow._slots_held(p_key text)
 RETURNS integer
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (select count(*)::integer from edgeflow.slots where limit_key = p_key);
end
$function$;
