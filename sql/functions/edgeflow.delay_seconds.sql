-- Seconds until `at`, rounded up: pgmq delays are whole seconds.
CREATE OR REPLACE FUNCTION edgeflow.delay_seconds(p_at timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return greatest(0, ceil(extract(epoch from p_at - clock_timestamp())))::integer;
end
$function$;
