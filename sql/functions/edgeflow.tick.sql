-- The tick without HTTP, for pg_cron (`select edgeflow.tick()` every
-- minute): what POST /trigger/tick does that SQL can do, in its order —
-- the maintenance pass (edgeflow.maintenance: expired leases, idle runs,
-- Lazarus, waiting runs, pruning runs), the subflow pass (edgeflow.subflow_tick:
-- retries, orphaned children), and the schedules' planned fire times
-- (edgeflow.fire_planned_schedules), due wait timeouts and sleeps, then the
-- event partitions
-- (edgeflow.maintain_partitions). What stays in the HTTP tick: starting
-- subflow children (their parameters are checked against a JSON Schema in
-- TypeScript), planning fire times (croner/rrule), schedules without a
-- usable plan, debounced event triggers and re-processing of events a crash
-- left unprocessed, QStash publishing and push delivery. Safe to run from several
-- jobs at once: each part is guarded as it is for racing HTTP ticks.
CREATE OR REPLACE FUNCTION edgeflow.tick()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.maintenance();
  v_subflows jsonb := edgeflow.subflow_tick();
  v_result jsonb;
begin
  v_result := v_sweep || jsonb_build_object('subflows', v_subflows)
              || edgeflow.fire_planned_schedules()
              -- Waits and sleeps that are due, and per-key lines (issue 16).
              || jsonb_build_object('events', jsonb_build_object(
                   'timeouts', edgeflow.fire_wait_timeouts(),
                   'pruned', edgeflow.prune_inbound_events(),
                   'steps_admitted', edgeflow.admit_queued_steps()))
              -- Runs not started in time (EDGEFLOW_LATE_SECONDS' default here).
              || jsonb_build_object('late', edgeflow.mark_late_runs());
  -- Last, with nothing left to wait for: see edgeflow.maintain_partitions.
  return v_result || edgeflow.maintain_partitions();
end
$function$;
