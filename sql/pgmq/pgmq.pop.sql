CREATE OR REPLACE FUNCTION pgmq.pop(queue_name text)
 RETURNS SETOF pgmq.message_record
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query execute format(
    'with picked as (
       select msg_id from pgmq.%1$I where vt <= clock_timestamp()
        order by msg_id limit 1 for update skip locked)
     delete from pgmq.%1$I q using picked where q.msg_id = picked.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q'));
end
$function$;
