-- Bounded retention of the webhook logs: inbound payloads (headers, body,
-- query) are dropped after 7 days and delivery rows after 30 (a provider's
-- redelivery of an id older than that starts a run again); settled outbound
-- rows go after 30 days. At most p_limit rows of each per call.
CREATE OR REPLACE FUNCTION edgeflow.prune_webhooks(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with payloads as (
    update edgeflow.webhook_deliveries set headers = null, body = null, query = null
     where id in (select id from edgeflow.webhook_deliveries
                   where received_at < edgeflow.now() - interval '7 days' and body is not null
                     and received_at >= edgeflow.now() - interval '30 days'
                   order by received_at limit p_limit)
    returning 1
  ), inbound as (
    delete from edgeflow.webhook_deliveries
     where id in (select id from edgeflow.webhook_deliveries
                   where received_at < edgeflow.now() - interval '30 days'
                   order by received_at limit p_limit)
    returning 1
  ), outbound as (
    delete from edgeflow.notification_deliveries
     where id in (select id from edgeflow.notification_deliveries
                   where status <> 'pending' and created_at < edgeflow.now() - interval '30 days'
                   limit p_limit)
    returning 1
  )
  select ((select count(*) from payloads) + (select count(*) from inbound)
          + (select count(*) from outbound))::integer;
$function$;
