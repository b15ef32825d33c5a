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
