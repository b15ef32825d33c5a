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
