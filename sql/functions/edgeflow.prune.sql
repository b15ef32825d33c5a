-- Retention, one bounded batch (from the maintenance pass): finished runs
-- past their retention (edgeflow.prune_runs), then the partitioned tables of
-- their history: day partitions ahead are made and emptied days dropped.
-- Partitioned run-keyed tables are listed here; a table of step logs
-- partitioned by range (run_created_at) the same way is pruned by adding its
-- name to v_tables.
CREATE OR REPLACE FUNCTION edgeflow.prune(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_tables text[] := array['events'];
  v_table text;
  v_runs integer := edgeflow.prune_runs(p_limit, p_retention_days);
  v_created integer := 0;
  v_dropped integer := 0;
begin
  foreach v_table in array v_tables loop
    v_created := v_created + edgeflow.ensure_partitions(v_table);
    v_dropped := v_dropped + edgeflow.drop_partitions(v_table);
  end loop;
  return jsonb_build_object('pruned_runs', v_runs, 'partitions_created', v_created,
                            'partitions_dropped', v_dropped);
end
$function$;
