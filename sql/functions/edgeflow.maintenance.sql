-- The maintenance pass of the tick: the sweep, pruning of rate-limit windows,
-- then retention (edgeflow.prune; last, because dropping a partition locks
-- the events table until this transaction commits).
CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  v_sweep := v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
  return v_sweep || edgeflow.prune(p_limit, p_retention_days);
end
$function$;
