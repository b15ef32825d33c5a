CREATE OR REPLACE FUNCTION pgmq.list_queues()
 RETURNS SETOF pgmq.meta
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  select * from pgmq.meta order by queue_name;
$function$;
