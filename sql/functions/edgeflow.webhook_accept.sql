-- Record one verified delivery of a webhook and, when its outcome is
-- 'started', start its run in the same transaction. The unique key
-- (webhook_id, dedupe_key) decides which of several concurrent redeliveries
-- starts the run: the others wait on the first one's row and then return its
-- run (`duplicate`). A delivery that failed (mapping, schema) is tried afresh
-- when it comes again. p_run: {flow_version_id, parameters, options} as
-- start_run takes them. Extension point: an outcome other than 'started'
-- (an event, say) would be handled here beside the run.
CREATE OR REPLACE FUNCTION edgeflow.webhook_accept(p_webhook_id uuid, p_delivery_id text, p_key text, p_event text, p_outcome text, p_error jsonb, p_payload jsonb, p_run jsonb, p_redelivery_of uuid DEFAULT NULL::uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_old record;
  v_r jsonb;
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
    select d.id, d.outcome, d.run_id, d.error into v_old
      from edgeflow.webhook_deliveries d
     where d.webhook_id = p_webhook_id and d.dedupe_key = p_key;
    return jsonb_build_object('delivery', v_old.id, 'duplicate', true, 'outcome', v_old.outcome,
                              'run_id', v_old.run_id, 'error', v_old.error);
  end if;
  if p_outcome = 'started' then
    v_r := edgeflow.start_run((p_run ->> 'flow_version_id')::uuid, p_run -> 'parameters',
                              coalesce(p_run -> 'options', '{}'::jsonb));
    if v_r ? 'error' then
      update edgeflow.webhook_deliveries
         set outcome = 'failed', error = jsonb_build_object('code', v_r ->> 'error')
       where id = v_id;
      return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', 'failed',
                                'run_id', null, 'error', jsonb_build_object('code', v_r ->> 'error'));
    end if;
    update edgeflow.webhook_deliveries set run_id = (v_r ->> 'run_id')::uuid where id = v_id;
  end if;
  return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', p_outcome,
                            'run_id', v_r ->> 'run_id', 'error', p_error);
end
$function$;
