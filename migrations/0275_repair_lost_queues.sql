-- repair_lost_queues: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow._repair_queues.sql
-- Handler queues whose pgmq table is gone are made again, and the queued
-- tasks whose messages went with them are sent again. A pg_dump of a
-- database with the real pgmq extension leaves the extension's queue tables
-- and pgmq.meta out (pgmq/pgmq#408): after a restore every send failed,
-- through the static calls and pgmq's own alike, and ensure_handler_queue
-- never made a queue its handler_queues row already named (found by a review
-- of the static calls). Called by every tick (edgeflow.maintenance); one
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
    select h.queue_name from edgeflow.handler_queues h
     where pg_catalog.to_regclass('pgmq.' || pg_catalog.quote_ident('q_' || h.queue_name)) is null
     order by h.queue_name
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

-- from sql/functions/edgeflow.maintenance.sql
-- The maintenance pass of the tick: the sweep, pruning of rate-limit windows,
-- then retention of finished runs (edgeflow.prune). Their event partitions
-- are the ticks' last step (edgeflow.maintain_partitions). Expired leases are
-- counted for /metrics. Last, handler queues whose table is gone are made
-- again (edgeflow._repair_queues: a restore of a pg_dump with the real pgmq
-- extension), and the static pgmq calls are written again if a handler queue
-- is missing from them (edgeflow._mq_compile: a queue made while another
-- transaction compiled; nothing is replaced when none is).
CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  if (v_sweep ->> 'swept')::int > 0 then
    insert into edgeflow.maintenance_counters as m (name, value)
    values ('lease_expiries', (v_sweep ->> 'swept')::int)
    on conflict (name) do update set value = m.value + excluded.value;
  end if;
  v_sweep := v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
  v_sweep := v_sweep || edgeflow.prune(p_limit, p_retention_days);
  perform edgeflow._repair_queues();
  perform edgeflow._mq_compile();
  return v_sweep;
end
$function$;
