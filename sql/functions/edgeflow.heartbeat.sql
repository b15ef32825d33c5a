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
