-- Record one verified delivery of a webhook and, when its outcome is
-- 'started', start its run in the same transaction. The unique key
-- (webhook_id, dedupe_key) decides which of several concurrent redeliveries
-- starts the run: the others wait on the first one's row and then return its
-- run (`duplicate`). A delivery that failed (mapping, schema) is tried afresh
-- when it comes again. p_run: {flow_version_id, parameters, options} as
-- start_run takes them.
--
-- p_emit: {name, key, payload} of the event the hook emits (issue 16), or
-- null. It is recorded here (edgeflow.record_event), before the run, in the
-- delivery's transaction: a delivery is never logged without its event. Its
-- dedupe id is 'webhook:<hook>:<dedupe_key>', so a failed delivery tried
-- again (or a racing redelivery) records it once. What the event does to
-- runs (waits, cancel_on, triggers) is processed after commit by the caller
-- (shared/engine/events.ts' processEvent), and by the tick if it never was.
-- Outcome 'emitted': the event only, no run.
CREATE OR REPLACE FUNCTION edgeflow.webhook_accept(p_webhook_id uuid, p_delivery_id text, p_key text, p_event text, p_outcome text, p_error jsonb, p_payload jsonb, p_run jsonb, p_redelivery_of uuid DEFAULT NULL::uuid, p_emit jsonb DEFAULT NULL::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_old record;
  v_r jsonb;
  v_e jsonb;
begin
  insert into edgeflow.webhook_deliveries as d
         (webhook_id, delivery_id, dedupe_key, event, outcome, error, headers, body, query, redelivery_of,
          received_at)
  values (p_webhook_id, p_delivery_id, p_key, p_event, p_outcome, p_error, p_payload -> 'headers',
          p_payload ->> 'body', p_payload -> 'query', p_redelivery_of, edgeflow.now())
  on conflict (webhook_id, dedupe_key) do update
     set delivery_id = excluded.delivery_id, event = excluded.event, outcome = excluded.outcome, error = excluded.error,
         headers = excluded.headers, body = excluded.body, query = excluded.query,
         received_at = excluded.received_at, run_id = null
   where d.outcome = 'failed'
  returning d.id into v_id;
  if v_id is null then
    select d.id, d.outcome, d.run_id, d.error, d.event_id into v_old
      from edgeflow.webhook_deliveries d
     where d.webhook_id = p_webhook_id and d.dedupe_key = p_key;
    return jsonb_build_object('delivery', v_old.id, 'duplicate', true, 'outcome', v_old.outcome,
                              'run_id', v_old.run_id, 'error', v_old.error,
                              'event_id', v_old.event_id);
  end if;
  if p_emit is not null then
    v_e := edgeflow.record_event(p_emit ->> 'name', p_emit ->> 'key', p_emit -> 'payload',
                                 'webhook:' || p_webhook_id || ':' || p_key);
    update edgeflow.webhook_deliveries set event_id = (v_e #>> '{event,id}')::uuid
     where id = v_id;
  end if;
  if p_outcome = 'started' then
    v_r := edgeflow.start_run((p_run ->> 'flow_version_id')::uuid, p_run -> 'parameters',
                              coalesce(p_run -> 'options', '{}'::jsonb));
    if v_r ? 'error' then
      update edgeflow.webhook_deliveries
         set outcome = 'failed', error = jsonb_build_object('code', v_r ->> 'error')
       where id = v_id;
      return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', 'failed',
                                'run_id', null, 'error', jsonb_build_object('code', v_r ->> 'error'),
                                'event', v_e -> 'event', 'event_created', v_e -> 'created');
    end if;
    update edgeflow.webhook_deliveries set run_id = (v_r ->> 'run_id')::uuid where id = v_id;
  end if;
  return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', p_outcome,
                            'run_id', v_r ->> 'run_id', 'error', p_error,
                            'event', v_e -> 'event', 'event_created', v_e -> 'created');
end
$function$;
