-- The document of an event sent to POST /trigger/events.
CREATE OR REPLACE FUNCTION edgeflow.inbound_event_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', e.id, 'name', e.name, 'key', e.key, 'payload', e.payload, 'dedupe_id', e.dedupe_id,
    'received_at', edgeflow.iso(e.received_at), 'processed_at', edgeflow.iso(e.processed_at),
    'runs_resumed', e.runs_resumed, 'runs_started', e.runs_started)
    from edgeflow.inbound_events e where e.id = p_id;
$function$;
