-- The engine's one clock: every time the engine reads, writes or compares goes
-- through here. It is the transaction's now() (so a transition stamps one
-- time) plus the shift tests set with edgeflow.advance_clock. No SET clause and
-- stable: the planner inlines it, so a query reads the shift once.
CREATE OR REPLACE FUNCTION edgeflow.now()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
  select pg_catalog.now() + coalesce((select c.shift from edgeflow.clock c), interval '0');
$function$;
