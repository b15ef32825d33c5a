-- pgmq.read for the engine's hot path. This is the body a database starts
-- with (every queue through pgmq.read); edgeflow._mq_compile rewrites it, as
-- each handler queue is made, with one static statement per handler queue
-- (see there for the figure).
CREATE OR REPLACE FUNCTION edgeflow._mq_read(p_queue text, p_vt integer, p_qty integer)
 RETURNS SETOF pgmq.message_record
 LANGUAGE plpgsql
AS $function$
begin
  return query select * from pgmq.read(p_queue, p_vt, p_qty);
end
$function$;
