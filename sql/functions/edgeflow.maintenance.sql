CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  return v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
end
$function$;
