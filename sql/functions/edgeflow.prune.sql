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
