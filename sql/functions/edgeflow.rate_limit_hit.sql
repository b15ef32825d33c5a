-- Count one request under `p_key` in a fixed window of `p_window_ms`:
-- returns {count, ttl_ms}, the count including this request and the time
-- left in its window. A window that has ended starts over at 1.
CREATE OR REPLACE FUNCTION edgeflow.rate_limit_hit(p_key text, p_window_ms integer)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  insert into edgeflow.rate_limit_windows as w (key, count, window_end)
  values (p_key, 1, edgeflow.now() + make_interval(secs => p_window_ms / 1000.0))
  on conflict (key) do update
     set count = case when w.window_end <= edgeflow.now() then 1 else w.count + 1 end,
         window_end = case when w.window_end <= edgeflow.now()
                           then edgeflow.now() + make_interval(secs => p_window_ms / 1000.0)
                           else w.window_end end
  returning jsonb_build_object(
    'count', w.count,
    'ttl_ms', greatest(1, ceil(extract(epoch from w.window_end - edgeflow.now()) * 1000))::int);
$function$;
