-- The answer to one attempt (claim_notifications): delivered on a 2xx, else
-- retried after 30 s × 2^(attempt-1), at most 6 h apart, until the next
-- attempt would fall more than 36 hours after the row was written (then
-- 'failed'): attempts at 0, 30 s, 1.5 min, … , 8.5 h, 14.5 h, 20.5 h, 26.5 h,
-- 32.5 h — over 24 hours of retries, 15 attempts. Only the current claim
-- (p_attempts) may settle the row. Returns {status, next_attempt_at}, or null.
CREATE OR REPLACE FUNCTION edgeflow.notification_result(p_id uuid, p_attempts integer, p_ok boolean, p_status integer, p_error text)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with next as (
    select edgeflow.now() + make_interval(secs => least(30 * 2 ^ (p_attempts - 1), 21600)) as at)
  update edgeflow.notification_deliveries d
     set status = case when p_ok then 'delivered'
                       when next.at > d.created_at + interval '36 hours' then 'failed'
                       else 'pending' end,
         next_attempt_at = case when p_ok then d.next_attempt_at else next.at end,
         delivered_at = case when p_ok then edgeflow.now() end,
         last_status = p_status, last_error = left(p_error, 500)
    from next
   where d.id = p_id and d.attempts = p_attempts and d.status = 'pending'
  returning jsonb_build_object('status', d.status, 'next_attempt_at', edgeflow.iso(d.next_attempt_at));
$function$;
