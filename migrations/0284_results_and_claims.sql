-- results_and_claims: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow._beat_row.sql
-- A worker's row in edgeflow.workers, refreshed by a beat (edgeflow.heartbeat,
-- edgeflow.results_and_claims).
--
-- The worker's row is written only when something in it changed or its
-- last beat is more than a second old: liveness is judged over 3 heartbeat
-- intervals, so a second of lag changes nothing, and a beat that writes
-- nothing commits no transaction at all. Backend CPU per capacity-0 beat
-- without leases (one session, 16 workers, 4 × 3,000 calls interleaved):
-- 147–187 µs this way against 277–350 µs writing every beat (`select 1`:
-- 50–57 µs in the same run).
-- A busy worker asks for its free slots, which differ from call to call
-- (a batch's `next` frees as many as it reported), so a changed capacity
-- writes only when it starts or stops being 0 (full or draining, which the
-- workers page shows): a nonzero capacity is as of the last second, as the
-- beat's time is. pgbench, 4 clients, 8 s rounds interleaved, empty queue,
-- worker_heartbeat with capacity 1-10 at random: 14,547-14,721 calls/s
-- when every change wrote, 21,228-21,578 this way (a constant capacity:
-- 21,036-22,541 either way).
CREATE OR REPLACE FUNCTION edgeflow._beat_row(p_worker text, p_pool text, p_handlers text[], p_capacity integer, p_heartbeat_seconds integer, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_fresh boolean;
begin
  select w.pool = p_pool and w.handlers is not distinct from p_handlers
         and (w.capacity = p_capacity or (w.capacity > 0 and p_capacity > 0))
         and w.heartbeat_seconds = p_heartbeat_seconds
         and w.last_heartbeat_at between p_now - interval '1 second' and p_now
    into v_fresh
    from edgeflow.workers w where w.name = p_worker;
  if v_fresh is not true then
    insert into edgeflow.workers (name, pool, handlers, capacity, heartbeat_seconds,
                                  first_heartbeat_at, last_heartbeat_at)
    values (p_worker, p_pool, p_handlers, p_capacity, p_heartbeat_seconds, p_now, p_now)
    on conflict (name) do update
       set pool = excluded.pool, handlers = excluded.handlers, capacity = excluded.capacity,
           heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = p_now;
  end if;
end
$function$;

-- from sql/functions/edgeflow._worker_owned.sql
-- Whether the key `p_key_id` (admin: `p_admin`) may beat as `p_worker`: a
-- worker name belongs to the key that first used it (migration 0067), taken
-- here with insert … on conflict do nothing, so of two keys racing for a new
-- name exactly one wins; the loser reads the winner's row and is refused.
-- Admins may use any name. edgeflow.worker_heartbeat and
-- edgeflow.results_and_claims ask it.
CREATE OR REPLACE FUNCTION edgeflow._worker_owned(p_key_id uuid, p_admin boolean, p_worker text)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_found boolean;
  v_owner uuid;
begin
  select true, o.key_id into v_found, v_owner
    from edgeflow.worker_owners o where o.worker = p_worker;
  if v_found is null then
    insert into edgeflow.worker_owners (worker, key_id) values (p_worker, p_key_id)
    on conflict (worker) do nothing;
    select true, o.key_id into v_found, v_owner
      from edgeflow.worker_owners o where o.worker = p_worker;
  end if;
  return p_admin or v_owner is not distinct from p_key_id;
end
$function$;

-- from sql/functions/edgeflow.heartbeat.sql
-- The worker protocol in one statement: liveness, leases, and new work.
CREATE OR REPLACE FUNCTION edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_leases jsonb := '{"lost": [], "cancel": [], "extended": 0}';
  v_handlers text[] := case when jsonb_typeof(p_handlers) = 'array'
                            then array(select jsonb_array_elements_text(p_handlers)) end;
  v_capacity integer := coalesce(p_capacity, 0);
  -- Both times by the engine's clock (not the columns' now() defaults): a new
  -- worker under a moved test clock is online from its first beat.
  v_now timestamptz := edgeflow.now();
begin
  -- A heartbeat's writes need not wait for the WAL flush: liveness is
  -- refreshed every few seconds, a lost lease extension only lets a lease
  -- expire early, and a claim the database forgets after a crash is refused
  -- at completion by fencing and run again. At-least-once holds either way,
  -- and the commit no longer waits on the disk (the bench: 2.5x heartbeats/s).
  perform set_config('synchronous_commit', 'off', true);
  perform edgeflow._beat_row(p_worker, p_pool, v_handlers, v_capacity, p_heartbeat_seconds, v_now);
  -- An idle worker holds no leases and a full one has no room: neither call is made for them.
  if jsonb_typeof(p_running) = 'array' and jsonb_array_length(p_running) > 0 then
    v_leases := edgeflow.extend_leases(p_running);
  end if;
  if v_capacity <= 0 then
    return (v_leases || '{"tasks": []}')::json;
  end if;
  -- json, as claim_tasks returns its documents (see _tasks_json).
  return json_build_object('lost', v_leases -> 'lost', 'cancel', v_leases -> 'cancel',
                           'extended', v_leases -> 'extended',
                           'tasks', edgeflow.claim_tasks(p_pool, p_handlers, p_capacity, p_worker));
end
$function$;

-- from sql/functions/edgeflow.results_and_claims.sql
-- The results of several requests and their workers' next claims in one call
-- and one transaction: what a server process sends when result requests
-- (`POST /heartbeat/tasks/complete` and `…/fail`, with or without `next`)
-- arrive while its earlier ones are still in the database
-- (shared/app/result_groups.ts). Each entry is accepted or refused exactly as
-- in its own call: the completions as edgeflow.complete_tasks takes them, then
-- the failures as edgeflow.fail_tasks does. A task named by two requests is
-- answered as if the second came after the first (stale_lease).
--
-- Then the claims, one answer each in the order given: a worker whose name
-- another key owns is refused ({"error": "worker_name_taken"}) as
-- edgeflow.worker_heartbeat refuses it; every other worker's row is refreshed
-- as its heartbeat would (edgeflow._beat_row), and the workers of one pool
-- and one handler list share one edgeflow.claim_tasks call for all their room,
-- its tasks handed out in the order given (each task's `worker` is the one it
-- went to). Returns {completed, failed, due, next}, `due` as
-- edgeflow.subflows_due() after the results. An exception anywhere aborts all
-- of it; the server then sends each request alone.
--
-- The commit waits for the WAL flush as a result's must: the claim turns
-- synchronous_commit off for its transaction, and it is put back after.
--
-- Figures that decided it (1,500 chains of 3, 8 workers, 10 tasks each per
-- call). tests/bench/peers/diagnose.ts over HTTP, one round each: 10 tasks
-- per call ran 3,010 steps/s at 471 µs of backend CPU per step, 40 per call
-- 5,272 at 293 µs. On 8 connections through SQL, 3 rounds interleaved
-- (medians): claims of 10 and completions of 10, 2,775 steps/s; completions
-- of 40 after four claims of 10, 3,933; one claim of 40 and completions of
-- 10, 3,276; one claim of 40 and one completion of 40, 4,593. Both halves
-- gain from being one call: the claims too are shared, not only the
-- transaction.
CREATE OR REPLACE FUNCTION edgeflow.results_and_claims(p_completions jsonb, p_failures jsonb, p_claims jsonb)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sync text := pg_catalog.current_setting('synchronous_commit');
  v_now timestamptz := edgeflow.now();
  v_completed jsonb := '[]'::jsonb;
  v_failed jsonb := '[]'::jsonb;
  v_due boolean;
  v_n integer;
  v_next json[];
  v_owned boolean[];
  c jsonb;
  g record;
  v_docs json;
  v_docs_by json[];
begin
  if pg_catalog.jsonb_typeof(p_claims) is distinct from 'array' then
    raise exception 'results_and_claims expects a JSON array of claims' using errcode = '22023';
  end if;
  if pg_catalog.jsonb_array_length(p_completions) > 0 then
    v_completed := edgeflow.complete_tasks(p_completions);
  end if;
  if pg_catalog.jsonb_array_length(p_failures) > 0 then
    v_failed := edgeflow.fail_tasks(p_failures);
  end if;
  v_due := edgeflow.subflows_due();

  v_n := pg_catalog.jsonb_array_length(p_claims);
  v_next := pg_catalog.array_fill(null::json, array[v_n]);
  v_owned := pg_catalog.array_fill(false, array[v_n]);
  for i in 1 .. v_n loop
    c := p_claims -> (i - 1);
    if edgeflow._worker_owned((c ->> 'key_id')::uuid, (c ->> 'admin')::boolean, c ->> 'worker') then
      v_owned[i] := true;
      perform edgeflow._beat_row(c ->> 'worker', c ->> 'pool',
                                 case when pg_catalog.jsonb_typeof(c -> 'handlers') = 'array'
                                      then array(select pg_catalog.jsonb_array_elements_text(c -> 'handlers')) end,
                                 greatest(coalesce((c ->> 'capacity')::integer, 0), 0),
                                 (c ->> 'heartbeat_seconds')::integer, v_now);
    else
      v_next[i] := pg_catalog.json_build_object('error', 'worker_name_taken');
    end if;
  end loop;

  for g in
    select x.value ->> 'pool' as pool,
           case when pg_catalog.jsonb_typeof(x.value -> 'handlers') = 'array'
                then x.value -> 'handlers' end as handlers,
           array_agg(x.ord::integer order by x.ord) as claims,
           array_agg(x.value ->> 'worker' order by x.ord) as workers,
           array_agg(greatest(coalesce((x.value ->> 'capacity')::integer, 0), 0) order by x.ord)
             as room
      from pg_catalog.jsonb_array_elements(p_claims) with ordinality as x(value, ord)
     where v_owned[x.ord]
     group by 1, 2
  loop
    v_docs := case when (select sum(r) from unnest(g.room) as r) > 0
                   then edgeflow.claim_tasks(g.pool, g.handlers,
                                             (select sum(r) from unnest(g.room) as r)::integer,
                                             g.workers[1])
                   else '[]'::json end;
    -- The tasks in order, the first room's worth to the first worker, and so on.
    with doc as (
      select d.value, d.ord,
             (select min(k) from generate_subscripts(g.room, 1) as k
               where (select sum(r) from unnest(g.room[1:k]) as r) >= d.ord) as k
        from pg_catalog.json_array_elements(v_docs) with ordinality as d(value, ord)
    ), handed as (
      update edgeflow.tasks t set worker = g.workers[doc.k]
        from doc
       where doc.k > 1 and t.id = (doc.value ->> 'task')::uuid
    )
    select array_agg(coalesce(p.tasks, '[]'::json) order by k.k) into v_docs_by
      from generate_subscripts(g.room, 1) as k(k)
      left join (select doc.k, pg_catalog.json_agg(doc.value order by doc.ord) as tasks
                   from doc group by doc.k) p on p.k = k.k;
    for j in 1 .. cardinality(g.claims) loop
      v_next[g.claims[j]] := pg_catalog.json_build_object('lost', '[]'::json, 'cancel', '[]'::json,
                                                          'extended', 0, 'tasks', v_docs_by[j]);
    end loop;
  end loop;
  perform pg_catalog.set_config('synchronous_commit', v_sync, true);
  return pg_catalog.json_build_object('completed', v_completed, 'failed', v_failed, 'due', v_due,
                                      'next', pg_catalog.array_to_json(v_next));
end
$function$;

-- from sql/functions/edgeflow.worker_heartbeat.sql
-- Heartbeat as the key `p_key_id` (admin: `p_admin`): refused
-- ({"error": "worker_name_taken"}) when another key owns the name
-- (edgeflow._worker_owned).
CREATE OR REPLACE FUNCTION edgeflow.worker_heartbeat(p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if not edgeflow._worker_owned(p_key_id, p_admin, p_worker) then
    return json_build_object('error', 'worker_name_taken');
  end if;
  return edgeflow.heartbeat(p_worker, p_pool, p_handlers, p_capacity, p_running,
                            p_heartbeat_seconds);
end
$function$;
