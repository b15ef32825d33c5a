-- queue_repair_first_and_bounded: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.ensure_handler_queue.sql
-- The pgmq queue for a handler in a pool's queue; created on first use, when
-- the engine's static pgmq calls are rewritten to include it
-- (edgeflow._mq_compile, which never waits: see there). One lock per queue
-- name, as before migration 0266: 0266-0272 took one lock for making any
-- queue and held it to commit, which joined transactions that made different
-- queues into deadlocks over the locks they already held (0273).
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

-- from sql/functions/edgeflow._make_flow_queues.sql
-- The handler queues a flow version's task steps use in a pool's queue, made
-- ahead: by register_flow for the deployments that follow the flow's newest
-- version (and the default pool's default queue), by upsert_deployment for
-- the version it runs. A run's first steps then make none in the middle of
-- a trigger or a completion (migration 0274). Making a queue there took
-- locks held to commit while the transaction held runs and slots: on the
-- real pgmq extension, Postgres serialises every new queue on the extension
-- (`alter extension pgmq add table`), so two completions making different
-- new queues could still deadlock over their slot locks after 0273. Steps
-- with no task (a subflow, a wait or a sleep) have no queue. At most 32 per
-- call (0276): each new queue holds some 30 locks to commit, and a
-- 250-handler flow would have filled the server's lock table ("out of shared
-- memory"); the rest are made by the runs' first steps, as before 0274.
-- Returns how many queues it made.
CREATE OR REPLACE FUNCTION edgeflow._make_flow_queues(p_flow_version_id uuid, p_pool text, p_queue text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  s record;
  v_n integer := 0;
begin
  if p_pool is null or p_queue is null
     or not exists (select 1 from edgeflow.pools where name = p_pool) then
    return 0;
  end if;
  for s in
    select d.handler, d.timeout
      from (select distinct on (fs.handler) fs.handler, fs.timeout, fs.step_index
              from edgeflow.flow_steps fs
             where fs.flow_version_id = p_flow_version_id and fs.deployment is null
               and fs.wait is null
               and not exists (select 1 from edgeflow.handler_queues h
                                where h.pool = p_pool and h.queue = p_queue
                                  and h.handler = fs.handler)
             order by fs.handler, fs.step_index) d
     order by d.step_index
     limit 32
  loop
    perform edgeflow.ensure_handler_queue(p_pool, p_queue, s.handler, s.timeout);
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;

-- from sql/functions/edgeflow._repair_queues.sql
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

-- from sql/functions/edgeflow.maintenance.sql
-- The maintenance pass of the tick: the sweep, pruning of rate-limit windows,
-- then retention of finished runs (edgeflow.prune). Their event partitions
-- are the ticks' last step (edgeflow.maintain_partitions). Expired leases are
-- counted for /metrics. Before all, handler queues whose table is gone are
-- made again (edgeflow._repair_queues: a restore of a pg_dump with the real
-- pgmq extension; the sweep would fail on them); last, the static pgmq calls
-- are written again if a handler queue is missing from them
-- (edgeflow._mq_compile: a queue made while another transaction compiled;
-- nothing is replaced when none is).
CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  -- First, queues whose table is gone (a restore): the sweep sends to them.
  v_repaired integer := edgeflow._repair_queues();
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  if (v_sweep ->> 'swept')::int > 0 then
    insert into edgeflow.maintenance_counters as m (name, value)
    values ('lease_expiries', (v_sweep ->> 'swept')::int)
    on conflict (name) do update set value = m.value + excluded.value;
  end if;
  v_sweep := v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
  v_sweep := v_sweep || edgeflow.prune(p_limit, p_retention_days);
  perform edgeflow._mq_compile();
  return v_sweep;
end
$function$;
