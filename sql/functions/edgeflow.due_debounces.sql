-- Debounced bursts whose quiet time is over (by edgeflow.now()), oldest
-- first: [{deployment_id, deployment, index, parameters, event}]. Not
-- deleted here: shared/engine/event_triggers.ts starts the run (idempotent per
-- event id), then edgeflow.debounce_done removes the entry.
CREATE OR REPLACE FUNCTION edgeflow.due_debounces(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'deployment_id', b.deployment_id, 'deployment', d.name, 'index', b.trigger_index,
           'parameters', coalesce(d.triggers -> b.trigger_index -> 'parameters', '{}'),
           'event', edgeflow.inbound_event_json(b.event_id))
         order by b.fire_at), '[]')
    from (select * from edgeflow.trigger_debounces
           where fire_at <= edgeflow.now() order by fire_at limit p_limit) b
    join edgeflow.deployments d on d.id = b.deployment_id;
$function$;
