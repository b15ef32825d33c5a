-- Whether a statement of this transaction marked a subflow task due (the
-- callers read it after the transition in one select list and then start
-- them: shared/engine/subflows.ts).
-- plpgsql without a SET clause, as edgeflow.now(): the sql function with
-- `SET search_path` could not be inlined and was planned again on every call
-- (about 125 µs per step in the engine profile); the body names only
-- pg_catalog.
CREATE OR REPLACE FUNCTION edgeflow.subflows_due()
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
AS $function$
begin
  return coalesce(pg_catalog.current_setting('edgeflow.subflows_due', true), '') = 'on';
end
$function$;
