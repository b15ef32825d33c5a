-- worker_first_heartbeat_by_engine_clock: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.heartbeat.sql
-- The worker protocol in one statement: liveness, leases, and new work.
CREATE OR REPLACE FUNCTION edgeflow.heartbeat(p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_running jsonb, p_heartbeat_seconds integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_leases jsonb;
begin
  -- A heartbeat's writes need not wait for the WAL flush: liveness is
  -- refreshed every few seconds, a lost lease extension only lets a lease
  -- expire early, and a claim the database forgets after a crash is refused
  -- at completion by fencing and run again. At-least-once holds either way,
  -- and the commit no longer waits on the disk (the bench: 2.5x heartbeats/s).
  perform set_config('synchronous_commit', 'off', true);
  -- Both times by the engine's clock (not the columns' now() defaults): a new
  -- worker under a moved test clock is online from its first beat.
  insert into edgeflow.workers (name, pool, handlers, capacity, heartbeat_seconds,
                                first_heartbeat_at, last_heartbeat_at)
  values (p_worker, p_pool,
          case when jsonb_typeof(p_handlers) = 'array'
               then array(select jsonb_array_elements_text(p_handlers)) end,
          coalesce(p_capacity, 0), p_heartbeat_seconds, edgeflow.now(), edgeflow.now())
  on conflict (name) do update
     set pool = excluded.pool, handlers = excluded.handlers, capacity = excluded.capacity,
         heartbeat_seconds = excluded.heartbeat_seconds, last_heartbeat_at = edgeflow.now();
  v_leases := edgeflow.extend_leases(p_running);
  return v_leases || jsonb_build_object(
    'tasks', edgeflow.claim_tasks(p_pool, p_handlers, p_capacity, p_worker));
end
$function$;
