-- Delete up to `p_limit` events older than edgeflow.event_retention(),
-- oldest first (inbound_events_received). Returns how many.
CREATE OR REPLACE FUNCTION edgeflow.prune_inbound_events(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_n integer;
begin
  with old as (
    select id from edgeflow.inbound_events
     where received_at < edgeflow.now() - edgeflow.event_retention()
     order by received_at limit p_limit
       for update skip locked
  )
  delete from edgeflow.inbound_events e using old where e.id = old.id;
  get diagnostics v_n = row_count;
  return v_n;
end
$function$;
