-- make_flow_queues_ahead: written by `deno task sql:migration` from what changed in sql/.

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
-- with no task (a subflow, a wait or a sleep) have no queue. Returns how many
-- queues it made.
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
    select distinct on (fs.handler) fs.handler, fs.timeout
      from edgeflow.flow_steps fs
     where fs.flow_version_id = p_flow_version_id and fs.deployment is null and fs.wait is null
       and not exists (select 1 from edgeflow.handler_queues h
                        where h.pool = p_pool and h.queue = p_queue and h.handler = fs.handler)
     order by fs.handler, fs.step_index
  loop
    perform edgeflow.ensure_handler_queue(p_pool, p_queue, s.handler, s.timeout);
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;

-- from sql/functions/edgeflow.register_flow.sql
-- Register a flow version from its canonical definition (normalised by the
-- API layer: every field present, steps in topological order). Identical
-- re-registration, or the latest version's idempotency key, returns the
-- existing version; anything else becomes version N+1 and archives the
-- previous unarchived version of the same version group.
CREATE OR REPLACE FUNCTION edgeflow.register_flow(p_def jsonb, p_idempotency_key text DEFAULT NULL::text, p_version_group text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_name text := p_def ->> 'name';
  v_group text := coalesce(p_version_group, p_def ->> 'name');
  v_hash text := encode(sha256(convert_to(p_def::text, 'UTF8')), 'hex');
  v_latest record;
  v_id uuid;
  v_version integer;
begin
  -- One registration of a flow at a time: version numbers stay dense.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.register:' || v_name));
  insert into edgeflow.flows (name) values (v_name) on conflict do nothing;
  select id, version, hash, idempotency_key, version_group into v_latest
    from edgeflow.flow_versions where flow_name = v_name order by version desc limit 1;
  if found and (
       (p_idempotency_key is not null and v_latest.idempotency_key = p_idempotency_key)
    or (p_idempotency_key is null and v_latest.hash = v_hash and v_latest.version_group = v_group)
  ) then
    return jsonb_build_object('id', v_latest.id, 'name', v_name, 'version', v_latest.version,
                              'hash', v_latest.hash, 'created', false);
  end if;

  v_version := coalesce(v_latest.version, 0) + 1;
  update edgeflow.flow_versions set archived = true, archived_at = edgeflow.now()
   where flow_name = v_name and version_group = v_group and not archived;
  insert into edgeflow.flow_versions (flow_name, version, version_group, hash, idempotency_key,
                                      definition, settings)
  values (v_name, v_version, v_group, v_hash, p_idempotency_key, p_def,
          coalesce(p_def -> 'settings', '{}'))
  returning id into v_id;

  insert into edgeflow.flow_steps (flow_version_id, slug, step_index, handler, depends_on,
                                   dependents, map_from, max_attempts, base_delay, timeout,
                                   start_delay, args, deployment, wait, concurrency)
  select v_id, st ->> 'slug', (ord - 1)::integer, st ->> 'handler',
         array(select jsonb_array_elements_text(st -> 'depends_on')),
         array(select o ->> 'slug' from jsonb_array_elements(p_def -> 'steps') as o
                where o -> 'depends_on' ? (st ->> 'slug')),
         st ->> 'map', (st ->> 'max_attempts')::integer, (st ->> 'base_delay')::double precision,
         (st ->> 'timeout')::integer, coalesce((st ->> 'start_delay')::integer, 0),
         st -> 'args', st ->> 'deployment',
         -- A wait or a sleep (issue 16): {"event": …}, {"sleep": seconds} or {"until": time}.
         case when st ? 'wait' then st -> 'wait'
              when jsonb_typeof(st -> 'sleep') = 'number'
                then jsonb_build_object('sleep', st -> 'sleep')
              when st ? 'sleep' then st -> 'sleep' end,
         st -> 'concurrency'
    from jsonb_array_elements(p_def -> 'steps') with ordinality as s(st, ord);

  -- Its handlers' queues, made now rather than by its runs' first steps
  -- (edgeflow._make_flow_queues): where its deployments that run the newest
  -- version send work, and the default pool's default queue (ad hoc runs).
  perform edgeflow._make_flow_queues(v_id, t.pool, t.queue)
     from (select d.pool, d.queue from edgeflow.deployments d
            where d.flow_name = v_name and d.version_pin is null
           union
           select 'default', 'default') t;

  return jsonb_build_object('id', v_id, 'name', v_name, 'version', v_version, 'hash', v_hash,
                            'created', true);
end
$function$;

-- from sql/functions/edgeflow.upsert_deployment.sql
-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
CREATE OR REPLACE FUNCTION edgeflow.upsert_deployment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.flows where name = p ->> 'flow') then
    return jsonb_build_object('error', 'unknown_flow', 'path', 'flow');
  end if;
  if jsonb_typeof(p -> 'version') = 'number' and not exists (
       select 1 from edgeflow.flow_versions
        where flow_name = p ->> 'flow' and version = (p ->> 'version')::int) then
    return jsonb_build_object('error', 'unknown_version', 'path', 'version');
  end if;
  if not exists (select 1 from edgeflow.pools where name = p ->> 'pool') then
    return jsonb_build_object('error', 'unknown_pool', 'path', 'pool');
  end if;
  insert into edgeflow.pool_queues (pool, name) values (p ->> 'pool', p ->> 'queue')
  on conflict do nothing;
  insert into edgeflow.deployments as d (name, flow_name, version_pin, pool, queue, description,
                                         parameters, tags, concurrency_limit, collision_strategy,
                                         paused, job_variables, retention_days, triggers,
                                         cancel_on, concurrency)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'),
          (p ->> 'retention_days')::int,
          coalesce(p -> 'triggers', '[]'), coalesce(p -> 'cancel_on', '[]'),
          coalesce(p -> 'concurrency', '[]'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, retention_days = excluded.retention_days,
         triggers = excluded.triggers, cancel_on = excluded.cancel_on,
         concurrency = excluded.concurrency,
         updated_at = edgeflow.now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  -- The queues of the version it runs, made now rather than by its first run
  -- (edgeflow._make_flow_queues).
  perform edgeflow._make_flow_queues(v.id, p ->> 'pool', p ->> 'queue')
     from (select fv.id from edgeflow.flow_versions fv
             join edgeflow.deployments d on d.id = v_id
            where fv.flow_name = d.flow_name
              and (d.version_pin is null or fv.version = d.version_pin)
            order by (d.version_pin is null and fv.archived), fv.version desc
            limit 1) v;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$function$;
