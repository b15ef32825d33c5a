CREATE OR REPLACE FUNCTION edgeflow._handler_online(p_pool text, p_handler text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select exists (
    select 1 from edgeflow.workers w
     where w.pool = p_pool
       and w.last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * w.heartbeat_seconds)
       and (w.handlers is null or p_handler = any(w.handlers)));
$function$;
