-- The partitioned tables of run history (edgeflow.events and, since issue
-- 15's log retention, edgeflow.task_logs): day partitions ahead are made and
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
  v_tables text[] := array['events', 'task_logs'];
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
