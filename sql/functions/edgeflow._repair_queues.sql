-- Handler queues whose pgmq table is gone are made again, and the queued
-- tasks whose messages went with them are sent again. A pg_dump of a
-- database with the real pgmq extension leaves the extension's queue tables
-- and pgmq.meta out (pgmq/pgmq#408): after a restore every send failed,
-- through the static calls and pgmq's own alike, and ensure_handler_queue
-- never made a queue its handler_queues row already named (found by a review
-- of the static calls). The subflow queue `ef_subflows` is repaired the same
-- way (0276). Called by every tick (edgeflow.maintenance), first: the lease
-- sweep sends to these queues and failed on a missing one, so a repair run
-- after it was never reached (0276); one
-- catalog probe per handler queue when nothing is missing. A running task's
-- message is sent again by the lease sweep (edgeflow._requeue) when its
-- lease runs out. Returns how many queues it made.
CREATE OR REPLACE FUNCTION edgeflow._repair_queues()
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  t record;
  v_n integer := 0;
begin
  for q in
    select x.queue_name
      from (select h.queue_name from edgeflow.handler_queues h
            union all
            select 'ef_subflows') x
     where pg_catalog.to_regclass('pgmq.' || pg_catalog.quote_ident('q_' || x.queue_name)) is null
     order by x.queue_name
  loop
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:' || q.queue_name));
    continue when pg_catalog.to_regclass('pgmq.' || pg_catalog.quote_ident('q_' || q.queue_name))
                  is not null;
    perform pgmq.create(q.queue_name);
    v_n := v_n + 1;
    -- New message ids start past every id a task still names: an old id must
    -- never find another task's new message (set_vt would move the wrong one).
    perform pg_catalog.setval(
              pg_catalog.pg_get_serial_sequence('pgmq.' || pg_catalog.quote_ident('q_' || q.queue_name),
                                                'msg_id'), m.top)
       from (select max(tk.msg_id) as top from edgeflow.tasks tk
              where tk.queue_name = q.queue_name) m
      where m.top is not null;
    for t in
      select tk.id, tk.available_at from edgeflow.tasks tk
       where tk.queue_name = q.queue_name and tk.status = 'QUEUED'
    loop
      perform edgeflow._requeue(t.id, greatest(t.available_at, edgeflow.now()));
    end loop;
  end loop;
  return v_n;
end
$function$;
