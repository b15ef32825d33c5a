CREATE OR REPLACE FUNCTION pgmq.delete(queue_name text, msg_id bigint)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  found_id bigint;
begin
  execute format('delete from pgmq.%I where msg_id = $1 returning msg_id',
                 pgmq.format_table_name(queue_name, 'q'))
    into found_id using msg_id;
  return found_id is not null;
end
$function$;

CREATE OR REPLACE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query execute format('delete from pgmq.%I where msg_id = any($1) returning msg_id',
                              pgmq.format_table_name(queue_name, 'q')) using msg_ids;
end
$function$;
