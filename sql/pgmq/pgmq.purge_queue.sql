CREATE OR REPLACE FUNCTION pgmq.purge_queue(queue_name text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  n bigint;
begin
  execute format('with gone as (delete from pgmq.%I returning 1) select count(*) from gone',
                 pgmq.format_table_name(queue_name, 'q')) into n;
  return n;
end
$function$;
