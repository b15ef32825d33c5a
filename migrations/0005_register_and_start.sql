-- Registering flow versions and starting runs.

-- Register a flow version from its canonical definition (normalised by the
-- API layer: every field present, steps in topological order). Identical
-- re-registration, or the latest version's idempotency key, returns the
-- existing version; anything else becomes version N+1 and archives the
-- previous unarchived version of the same version group.
create function edgeflow.register_flow(p_def jsonb, p_idempotency_key text default null,
                                       p_version_group text default null)
returns jsonb language plpgsql set search_path = '' as $$
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
  update edgeflow.flow_versions set archived = true, archived_at = now()
   where flow_name = v_name and version_group = v_group and not archived;
  insert into edgeflow.flow_versions (flow_name, version, version_group, hash, idempotency_key,
                                      definition, settings)
  values (v_name, v_version, v_group, v_hash, p_idempotency_key, p_def,
          coalesce(p_def -> 'settings', '{}'))
  returning id into v_id;

  insert into edgeflow.flow_steps (flow_version_id, slug, step_index, handler, depends_on,
                                   dependents, map_from, max_attempts, base_delay, timeout,
                                   start_delay, args, deployment)
  select v_id, st ->> 'slug', (ord - 1)::integer, st ->> 'handler',
         array(select jsonb_array_elements_text(st -> 'depends_on')),
         array(select o ->> 'slug' from jsonb_array_elements(p_def -> 'steps') as o
                where o -> 'depends_on' ? (st ->> 'slug')),
         st ->> 'map', (st ->> 'max_attempts')::integer, (st ->> 'base_delay')::double precision,
         (st ->> 'timeout')::integer, coalesce((st ->> 'start_delay')::integer, 0),
         st -> 'args', st ->> 'deployment'
    from jsonb_array_elements(p_def -> 'steps') with ordinality as s(st, ord);

  return jsonb_build_object('id', v_id, 'name', v_name, 'version', v_version, 'hash', v_hash,
                            'created', true);
end
$$;

create function edgeflow.archive_flow_version(p_name text, p_version integer)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_id uuid;
begin
  update edgeflow.flow_versions
     set archived = true, archived_at = coalesce(archived_at, now())
   where flow_name = p_name and version = p_version
  returning id into v_id;
  if v_id is null then
    return jsonb_build_object('error', 'not_found');
  end if;
  return jsonb_build_object('id', v_id, 'name', p_name, 'version', p_version, 'archived', true);
end
$$;

-- Start a run of a flow version. Options (all optional): deployment_id, pool,
-- queue, tags, idempotency_scope + idempotency_key + request_hash,
-- parent_task_id, scheduled_time. Returns {run_id, status, created} or
-- {error} for expected refusals (archived, unknown version, idempotency
-- conflict), never an exception for those.
create function edgeflow.start_run(p_flow_version_id uuid, p_parameters jsonb,
                                   p_opts jsonb default '{}')
returns jsonb language plpgsql set search_path = '' as $$
declare
  fv record;
  v_run_id uuid := gen_random_uuid();
  v_existing record;
  v_scheduled timestamptz := (p_opts ->> 'scheduled_time')::timestamptz;
  v_pool text := coalesce(p_opts ->> 'pool', 'default');
  v_queue text := coalesce(p_opts ->> 'queue', 'default');
  v_status text;
  v_steps integer;
  v_roots text[];
begin
  select id, flow_name, version, archived, settings into fv
    from edgeflow.flow_versions where id = p_flow_version_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if fv.archived then
    return jsonb_build_object('error', 'archived', 'flow', fv.flow_name, 'version', fv.version);
  end if;
  if not exists (select 1 from edgeflow.pools where name = v_pool) then
    return jsonb_build_object('error', 'unknown_pool', 'pool', v_pool);
  end if;
  v_status := case when v_scheduled > now() then 'SCHEDULED' else 'PENDING' end;
  select count(*), array_agg(slug order by step_index) filter (where cardinality(depends_on) = 0)
    into v_steps, v_roots
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;

  insert into edgeflow.runs (id, flow_version_id, flow_name, version, deployment_id, pool, queue,
                             parameters, tags, status, remaining_steps, version_lock, heartbeat,
                             idempotency_scope, idempotency_key, request_hash, parent_task_id,
                             scheduled_time)
  values (v_run_id, fv.id, fv.flow_name, fv.version, (p_opts ->> 'deployment_id')::uuid,
          v_pool, v_queue, coalesce(p_parameters, '{}'),
          array(select jsonb_array_elements_text(coalesce(p_opts -> 'tags', '[]'))),
          v_status, v_steps,
          coalesce((fv.settings ->> 'version_lock')::boolean, true),
          coalesce((fv.settings ->> 'heartbeat')::boolean, true),
          p_opts ->> 'idempotency_scope', p_opts ->> 'idempotency_key',
          p_opts ->> 'request_hash', (p_opts ->> 'parent_task_id')::uuid, v_scheduled)
  on conflict (idempotency_scope, idempotency_key) where idempotency_key is not null
  do nothing;

  if not found then
    -- Same key seen before: the same request gets the same run.
    select id, status, request_hash into v_existing from edgeflow.runs
     where idempotency_scope = p_opts ->> 'idempotency_scope'
       and idempotency_key = p_opts ->> 'idempotency_key';
    if v_existing.request_hash is distinct from p_opts ->> 'request_hash' then
      return jsonb_build_object('error', 'idempotency_conflict', 'run_id', v_existing.id);
    end if;
    return jsonb_build_object('run_id', v_existing.id, 'status', v_existing.status,
                              'created', false);
  end if;

  insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps)
  select v_run_id, slug, step_index, 'PENDING', cardinality(depends_on)
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  perform edgeflow._start_steps(v_run_id, v_roots);

  select status into v_status from edgeflow.runs where id = v_run_id;
  return jsonb_build_object('run_id', v_run_id, 'status', v_status, 'created', true,
                            'flow', fv.flow_name, 'version', fv.version);
end
$$;
