-- Listeners (users' own code, or an SSE server holding a LISTEN connection)
-- can hear the run id on channel `edgeflow_events` and read the events
-- table. Off unless `edgeflow.notify_events` is 'on' (alter database … set
-- edgeflow.notify_events = on): a transaction that notified serialises its
-- commit with every other notifying commit on a global lock: 0.61 x the
-- steps/s without triggers in the same benchmark, against 0.92 x with NOTIFY
-- off. The built-in SSE stream polls instead. Postgres folds a transaction's
-- identical notifications into one.
CREATE OR REPLACE FUNCTION edgeflow._notify_event(p_run_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform pg_catalog.pg_notify('edgeflow_events', p_run_id::text);
  end if;
end
$function$;
