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
