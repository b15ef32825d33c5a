-- `skip locked` lets many readers take disjoint messages without waiting on
-- each other; `conditional` filters on containment as pgmq does.
CREATE OR REPLACE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}'::jsonb)
 RETURNS SETOF pgmq.message_record
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return query execute format(
    'with picked as (
       select msg_id from pgmq.%1$I
        where vt <= clock_timestamp() and ($3 = ''{}''::jsonb or message @> $3)
        order by msg_id
        limit $2
        for update skip locked)
     update pgmq.%1$I q
        set vt = clock_timestamp() + make_interval(secs => $1), read_ct = q.read_ct + 1
       from picked
      where q.msg_id = picked.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q')) using vt, qty, coalesce(conditional, '{}'::jsonb);
end
$function$;
