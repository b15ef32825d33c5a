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
  v_fresh boolean;
begin
  -- A heartbeat's writes need not wait for the WAL flush: liveness is
  -- refreshed every few seconds, a lost lease extension only lets a lease
  -- expire early, and a claim the database forgets after a crash is refused
  -- at completion by fencing and run again. At-least-once holds either way,
  -- and the commit no longer waits on the disk (the bench: 2.5x heartbeats/s).
  perform set_config('synchronous_commit', 'off', true);
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
  select w.pool = p_pool and w.handlers is not distinct from v_handlers
         and (w.capacity = v_capacity or (w.capacity > 0 and v_capacity > 0))
         and w.heartbeat_seconds = p_heartbeat_seconds
         and w.last_heartbeat_at between v_now - interval '1 second' and v_now
    into v_fresh
    from edgeflow.workers w where w.name = p_worker;
  if v_fresh is not true then
    insert into edgeflow.workers (name, pool, handlers, capacity, heartbeat_seconds,
                                  first_heartbeat_at, last_heartbeat_at)
    values (p_worker, p_pool, v_handlers, v_capacity, p_heartbeat_seconds, v_now, v_now)
    on conflict (name) do update
       set pool = excluded.pool, handlers = excluded.handlers, capacity = excluded.capacity,
           heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = v_now;
  end if;
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
