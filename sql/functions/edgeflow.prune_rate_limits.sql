-- Forget ended windows and expired keys, oldest first, at most `p_limit` each.
CREATE OR REPLACE FUNCTION edgeflow.prune_rate_limits(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_windows integer;
  v_keys integer;
begin
  delete from edgeflow.rate_limit_windows where key in (
    select key from edgeflow.rate_limit_windows where window_end < edgeflow.now()
     order by window_end limit p_limit);
  get diagnostics v_windows = row_count;
  delete from edgeflow.duplicate_keys where key in (
    select key from edgeflow.duplicate_keys where expires_at < edgeflow.now()
     order by expires_at limit p_limit);
  get diagnostics v_keys = row_count;
  return v_windows + v_keys;
end
$function$;
