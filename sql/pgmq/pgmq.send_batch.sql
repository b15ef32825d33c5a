-- Ids come back in the order of `msgs` (identity values follow insertion order).
CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer DEFAULT 0)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query select pgmq.send_batch(queue_name, msgs, null::jsonb[],
                         clock_timestamp() + make_interval(secs => delay));
end
$function$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamp with time zone)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query select pgmq.send_batch(queue_name, msgs, null::jsonb[], delay);
end
$function$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamp with time zone)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers)
     select $1, m.msg, $3[m.ord]
       from unnest($2) with ordinality as m(msg, ord)
      order by m.ord
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')) using delay, msgs, headers;
end
$function$;
