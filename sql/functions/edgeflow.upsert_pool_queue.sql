-- Create or update a queue of a pool (priority, limit, paused).
CREATE OR REPLACE FUNCTION edgeflow.upsert_pool_queue(p_pool text, p_name text, p_priority integer, p_limit integer, p_paused boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.pools where name = p_pool) then
    return jsonb_build_object('error', 'unknown_pool');
  end if;
  insert into edgeflow.pool_queues as q (pool, name, priority, concurrency_limit, paused)
  values (p_pool, p_name, p_priority, p_limit, p_paused)
  on conflict (pool, name) do update
     set priority = excluded.priority, concurrency_limit = excluded.concurrency_limit,
         paused = excluded.paused
  returning (q.xmax = 0) into v_created;
  return jsonb_build_object('pool', edgeflow.pool_json(p_pool), 'created', v_created);
end
$function$;
