-- Delivery records outlive QStash's retries (days) by far after 30 days.
CREATE OR REPLACE FUNCTION edgeflow.prune_qstash_deliveries(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with gone as (
    delete from edgeflow.qstash_deliveries
     where message_id in (select message_id from edgeflow.qstash_deliveries
                           where received_at < edgeflow.now() - interval '30 days'
                           order by received_at limit p_limit)
    returning 1)
  select count(*)::integer from gone;
$function$;
