-- pgmq.send_batch (messages visible at p_vt, no headers) for the engine's hot
-- path; rewritten by edgeflow._mq_compile as handler queues are made (see
-- _mq_read). Ids come back in the order of p_msgs.
CREATE OR REPLACE FUNCTION edgeflow._mq_send(p_queue text, p_msgs jsonb[], p_vt timestamp with time zone)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
begin
  return query select * from pgmq.send_batch(p_queue, p_msgs, null::jsonb[], p_vt);
end
$function$;
