-- How long events sent to POST /trigger/events are kept (and their dedupe
-- ids remembered): `edgeflow.event_retention` as a Postgres setting in
-- seconds (`alter database … set edgeflow.event_retention = 86400`), default
-- 7 days. A wait's lookback cannot reach further back than this.
CREATE OR REPLACE FUNCTION edgeflow.event_retention()
 RETURNS interval
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v text := pg_catalog.current_setting('edgeflow.event_retention', true);
begin
  return make_interval(secs => case when v ~ '^\s*[0-9]{1,9}\s*$' then v::integer
                                    else 7 * 86400 end);
end
$function$;
