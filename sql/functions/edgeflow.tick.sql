-- The tick without HTTP, for pg_cron (`select edgeflow.tick()` every
-- minute): what POST /trigger/tick does that SQL can do, in its order —
-- the maintenance pass (edgeflow.maintenance: expired leases, idle runs,
-- Lazarus, waiting runs, pruning), the subflow pass (edgeflow.subflow_tick:
-- retries, orphaned children), and the schedules' planned fire times
-- (edgeflow.fire_planned_schedules). What stays in the HTTP tick: starting
-- subflow children (their parameters are checked against a JSON Schema in
-- TypeScript), planning fire times (croner/rrule), schedules without a
-- usable plan, QStash publishing and push delivery. Safe to run from several
-- jobs at once: each part is guarded as it is for racing HTTP ticks.
CREATE OR REPLACE FUNCTION edgeflow.tick()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.maintenance();
  v_subflows jsonb := edgeflow.subflow_tick();
begin
  return v_sweep || jsonb_build_object('subflows', v_subflows)
         || edgeflow.fire_planned_schedules();
end
$function$;
