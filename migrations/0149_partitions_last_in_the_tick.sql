-- partitions_last_in_the_tick: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.tick.sql
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
                   'steps_admitted', edgeflow.admit_queued_steps()));
  -- Last, with nothing left to wait for: see edgeflow.maintain_partitions.
  return v_result || edgeflow.maintain_partitions();
end
$function$;

-- from sql/functions/edgeflow.maintain_partitions.sql
-- The partitioned tables of run history: day partitions ahead are made and
-- emptied past days dropped (edgeflow.ensure_partitions, drop_partitions).
-- Partition DDL locks the parent table until the transaction ends, so the
-- ticks call this last, in a statement of its own over HTTP and at the end
-- of edgeflow.tick(): run from the maintenance pass, before the schedules,
-- two racing pg_cron ticks deadlocked (one held the lock on edgeflow.events
-- and waited for a schedule row that the other held while writing events).
-- A run-keyed table partitioned by range (run_created_at) the same way is
-- kept by adding its name to v_tables.
CREATE OR REPLACE FUNCTION edgeflow.maintain_partitions()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_tables text[] := array['events'];
  v_table text;
  v_created integer := 0;
  v_dropped integer := 0;
begin
  foreach v_table in array v_tables loop
    v_created := v_created + edgeflow.ensure_partitions(v_table);
    v_dropped := v_dropped + edgeflow.drop_partitions(v_table);
  end loop;
  return jsonb_build_object('partitions_created', v_created, 'partitions_dropped', v_dropped);
end
$function$;

-- from sql/functions/edgeflow.prune.sql
-- Retention, one bounded batch (from the maintenance pass): finished runs
-- past their retention (edgeflow.prune_runs). The partitions of their history
-- are kept by edgeflow.maintain_partitions, which the ticks call last.
CREATE OR REPLACE FUNCTION edgeflow.prune(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return jsonb_build_object('pruned_runs', edgeflow.prune_runs(p_limit, p_retention_days));
end
$function$;
