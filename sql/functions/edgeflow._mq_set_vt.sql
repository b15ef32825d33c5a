-- pgmq.set_vt for the engine's hot path (the message visible again p_vt
-- seconds from now); rewritten by edgeflow._mq_compile as handler queues are
-- made (see _mq_read).
CREATE OR REPLACE FUNCTION edgeflow._mq_set_vt(p_queue text, p_id bigint, p_vt integer)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
begin
  perform pgmq.set_vt(p_queue, p_id, p_vt);
end
$function$;
