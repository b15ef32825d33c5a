-- No SET clause and stable (to_char is): so the planner inlines it into the
-- calling query instead of planning a function call per row.
CREATE OR REPLACE FUNCTION edgeflow.iso(ts timestamp with time zone)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
  select pg_catalog.to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$function$;
