CREATE OR REPLACE FUNCTION pgmq.metrics(queue_name text)
 RETURNS pgmq.metrics_result
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  result pgmq.metrics_result;
begin
  execute format(
    'select $1::text,
            count(*)::bigint,
            extract(epoch from clock_timestamp() - max(enqueued_at))::integer,
            extract(epoch from clock_timestamp() - min(enqueued_at))::integer,
            greatest(coalesce((select max(msg_id) from pgmq.%1$I), 0),
                     coalesce((select max(msg_id) from pgmq.%2$I), 0)),
            clock_timestamp(),
            count(*) filter (where vt <= clock_timestamp())::bigint
       from pgmq.%1$I',
    pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a'))
    into result using queue_name;
  return result;
end
$function$;
