-- pgmq.delete (of many messages) for the engine's hot path; rewritten by
-- edgeflow._mq_compile as handler queues are made (see _mq_read). Its plan
-- is generic, as the rewritten body's must be (see _mq_compile).
CREATE OR REPLACE FUNCTION edgeflow._mq_delete(p_queue text, p_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
begin
  return query select * from pgmq.delete(p_queue, p_ids);
end
$function$;
