-- The run of a debounced burst started: forget the burst, unless a newer
-- event has extended it meanwhile (then it stays, with that event).
CREATE OR REPLACE FUNCTION edgeflow.debounce_done(p_deployment_id uuid, p_index integer, p_event_id uuid)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  delete from edgeflow.trigger_debounces
   where deployment_id = p_deployment_id and trigger_index = p_index and event_id = p_event_id;
$function$;
