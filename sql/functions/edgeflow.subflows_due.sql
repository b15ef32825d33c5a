-- Whether a statement of this transaction marked a subflow task due.
CREATE OR REPLACE FUNCTION edgeflow.subflows_due()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.current_setting('edgeflow.subflows_due', true), '') = 'on';
$function$;
