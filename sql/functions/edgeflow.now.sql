-- The engine's one clock: every time the engine reads, writes or compares goes
-- through here. It is the transaction's now() (so a transition stamps one
-- time) plus the shift tests set with edgeflow.advance_clock.
-- plpgsql, not sql: the planner does not inline a SQL function whose body has
-- a subquery, so the sql version was planned anew in every statement that
-- read it. Figure that decided it (5,000 `update … set a = edgeflow.now()` in
-- one session, less the same with pg_catalog.now()): 29 µs per statement as
-- sql, 6 µs as plpgsql, whose plan stays cached for the session; the profile
-- (tests/bench/profile.ts) counted 7.7 reads per step, 0.3 ms of 4 ms.
CREATE OR REPLACE FUNCTION edgeflow.now()
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
begin
  return pg_catalog.now() + coalesce((select c.shift from edgeflow.clock c), interval '0');
end
$function$;
