-- How deep runs may nest below a top-level run (depth 0): its children are
-- depth 1. `edgeflow.max_run_depth` as a Postgres setting (`alter database …
-- set edgeflow.max_run_depth = 8`, or per role/session), default 16.
CREATE OR REPLACE FUNCTION edgeflow.max_run_depth()
 RETURNS integer
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v text := pg_catalog.current_setting('edgeflow.max_run_depth', true);
begin
  return case when v ~ '^\s*[0-9]{1,6}\s*$' then v::integer else 16 end;
end
$function$;
