-- Seconds until `at` (on the engine's clock), rounded up: pgmq delays are whole
-- seconds on the real clock, so the clock's shift is taken off.
CREATE OR REPLACE FUNCTION edgeflow.delay_seconds(p_at timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return greatest(0, ceil(extract(epoch from p_at - clock_timestamp() - (edgeflow.now() - pg_catalog.now()))))::integer;
end
$function$;
