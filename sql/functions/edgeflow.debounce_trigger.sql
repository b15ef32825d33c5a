-- A debounced trigger saw an event: its burst for this key now ends
-- `p_seconds` after this event, and its run gets this event's payload. An
-- event older than the one kept (processed again late) changes nothing.
CREATE OR REPLACE FUNCTION edgeflow.debounce_trigger(p_deployment_id uuid, p_index integer, p_event_id uuid, p_seconds integer)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
begin
  select key, received_at into e from edgeflow.inbound_events where id = p_event_id;
  insert into edgeflow.trigger_debounces as b (deployment_id, trigger_index, key, event_id,
                                              fire_at)
  values (p_deployment_id, p_index, e.key, p_event_id,
          e.received_at + make_interval(secs => p_seconds))
  on conflict (deployment_id, trigger_index, key) do update
     set event_id = excluded.event_id, fire_at = excluded.fire_at
   where coalesce((select k.received_at from edgeflow.inbound_events k where k.id = b.event_id)
                  <= e.received_at, true);
end
$function$;
