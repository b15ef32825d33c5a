-- The pgmq queue for a handler in a pool's queue; created on first use, when
-- the engine's static pgmq calls are rewritten to include it
-- (edgeflow._mq_compile, which never waits: see there). Register and deploy
-- make a flow's queues ahead (edgeflow._make_flow_queues), so a run's steps
-- rarely get here. One lock per queue name on our pgmq, as before migration
-- 0266: 0266-0272 took one lock for making any queue and held it to commit,
-- which joined transactions that made different queues into deadlocks over
-- the locks they already held (0273). On the real extension that one lock
-- comes first again (0276, below): Postgres serialises new queues there anyway.
CREATE OR REPLACE FUNCTION edgeflow.ensure_handler_queue(p_pool text, p_queue text, p_handler text, p_vt integer)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_name text;
begin
  select hq.queue_name into v_name from edgeflow.handler_queues hq
   where hq.pool = p_pool and hq.queue = p_queue and hq.handler = p_handler;
  if found then
    return v_name;
  end if;
  -- pgmq names are table names: derive a short, safe one from the triple.
  v_name := 'ef_' || substr(md5(p_pool || chr(31) || p_queue || chr(31) || p_handler), 1, 24);
  -- On the real pgmq extension, pgmq.create adds the tables to the extension,
  -- which Postgres serialises until commit: one lock for all queues first, so
  -- that two transactions making queues in different orders take the
  -- extension's lock in one order (without it, A-then-B against B
  -- deadlocked: reproduced in review, 0276). Our pgmq needs only the name's.
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pgmq') then
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:make'));
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:' || v_name));
  insert into edgeflow.pool_queues (pool, name) values (p_pool, p_queue) on conflict do nothing;
  if not exists (select 1 from edgeflow.handler_queues hq where hq.queue_name = v_name) then
    perform pgmq.create(v_name);
    insert into edgeflow.handler_queues (pool, queue, handler, queue_name, vt_seconds)
    values (p_pool, p_queue, p_handler, v_name, greatest(p_vt, 1)) on conflict do nothing;
    perform edgeflow._mq_compile();
  end if;
  return v_name;
end
$function$;
