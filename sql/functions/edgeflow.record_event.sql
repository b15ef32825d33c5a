-- Record an event sent to POST /trigger/events. Returns {event, created}:
-- created false (and the first event) when `p_dedupe_id` was seen before.
-- Holds the advisory lock of the event's name and key until commit, as a
-- wait beginning does (edgeflow._start_wait): see there. Nothing else is
-- locked here, so this transaction waits on no run; the waits, cancel_on and
-- triggers the event concerns are processed after it commits
-- (shared/engine/events.ts), and again by the tick if that never happened.
CREATE OR REPLACE FUNCTION edgeflow.record_event(p_name text, p_key text, p_payload jsonb, p_dedupe_id text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.event:' || p_name || '/' || coalesce(p_key, '')));
  insert into edgeflow.inbound_events (name, key, payload, dedupe_id, received_at)
  values (p_name, coalesce(p_key, ''), p_payload, p_dedupe_id, edgeflow.now())
  on conflict (dedupe_id) do nothing
  returning id into v_id;
  if v_id is null then
    select id into v_id from edgeflow.inbound_events where dedupe_id = p_dedupe_id;
    return jsonb_build_object('event', edgeflow.inbound_event_json(v_id), 'created', false);
  end if;
  return jsonb_build_object('event', edgeflow.inbound_event_json(v_id), 'created', true);
end
$function$;
