-- Claim up to p_limit due outbox rows for sending: each gets its attempt
-- counted and is hidden for p_lease_seconds, so a drain that dies mid-send
-- hands its rows back by themselves and two drains never send one row twice
-- at once (skip locked).
CREATE OR REPLACE FUNCTION edgeflow.claim_notifications(p_limit integer DEFAULT 20, p_lease_seconds integer DEFAULT 60)
 RETURNS TABLE(id uuid, message_id text, url text, secret text, payload jsonb, attempts integer)
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with due as (
    select d.id from edgeflow.notification_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= edgeflow.now()
     order by d.next_attempt_at
     limit p_limit
       for update skip locked)
  update edgeflow.notification_deliveries d
     set attempts = d.attempts + 1, last_attempt_at = edgeflow.now(),
         next_attempt_at = edgeflow.now() + make_interval(secs => p_lease_seconds)
    from due, edgeflow.notifications n
   where d.id = due.id and n.id = d.notification_id
  returning d.id, d.message_id, n.url, n.secret, d.payload, d.attempts;
$function$;
