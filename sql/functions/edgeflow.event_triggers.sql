-- The deployment triggers an event fires: one row per `triggers` entry
-- ({event, match, parameters, debounce}) of a deployment whose event is the
-- event's name and whose match the payload satisfies, in deployment name
-- and entry order. Starting the runs (rendering the parameters, checking
-- them against the flow's schema) is shared/engine/event_triggers.ts's.
CREATE OR REPLACE FUNCTION edgeflow.event_triggers(p_event_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'deployment_id', d.id, 'deployment', d.name, 'index', t.ord - 1,
           'parameters', coalesce(t.entry -> 'parameters', '{}'),
           'debounce', t.entry -> 'debounce')
         order by d.name, t.ord), '[]')
    from edgeflow.inbound_events e
    join edgeflow.deployments d on jsonb_array_length(d.triggers) > 0
    cross join lateral jsonb_array_elements(d.triggers) with ordinality as t(entry, ord)
   where e.id = p_event_id and t.entry ->> 'event' = e.name
     and edgeflow._event_matches(e.payload, t.entry -> 'match');
$function$;
