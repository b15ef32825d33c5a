-- Moves the engine's clock forward by p_seconds, for tests: what would have
-- happened in that time happens at once. pgmq's visibility times run on the
-- real clock, so every message of every queue is made visible that much
-- earlier too: a retry due in 30 s, a start delay or a lease's message behave as
-- if the time had passed. Returns the new edgeflow.now().
CREATE OR REPLACE FUNCTION edgeflow.advance_clock(p_seconds double precision)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  v_by interval := make_interval(secs => p_seconds);
begin
  if p_seconds is null or p_seconds < 0 then
    raise exception 'the clock only moves forward (got %)', p_seconds;
  end if;
  insert into edgeflow.clock as c (id, shift) values (true, v_by)
  on conflict (id) do update set shift = c.shift + v_by;
  for q in select m.queue_name from pgmq.meta m loop
    execute format('update pgmq.%I set vt = vt - $1', 'q_' || q.queue_name) using v_by;
  end loop;
  return edgeflow.now();
end
$function$;
