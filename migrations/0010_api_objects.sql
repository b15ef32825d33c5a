-- What the HTTP API manages beside the engine: API keys, deployments'
-- upsert and read model, variables, and listings.

create table edgeflow.api_keys (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  hash text not null unique,
  prefix text not null,
  scopes text[] not null,
  expires_at timestamptz,
  revoked boolean not null default false,
  created_at timestamptz not null default now()
);

create table edgeflow.variables (
  name text primary key,
  value jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create function edgeflow.deployment_json(p_id uuid)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name,
    'version', coalesce(to_jsonb(d.version_pin), '"latest"'::jsonb),
    'pool', d.pool, 'queue', d.queue, 'description', d.description,
    'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'concurrency_limit', d.concurrency_limit, 'collision_strategy', d.collision_strategy,
    'paused', d.paused, 'job_variables', d.job_variables,
    'schedules', '[]'::jsonb,
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$$;

-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
create function edgeflow.upsert_deployment(p jsonb)
returns jsonb language plpgsql set search_path = '' as $$
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
                                         paused, job_variables)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, updated_at = now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$$;

-- Everything a trigger needs in one round trip: the deployment, the version
-- it runs (pinned or newest unarchived) and the flow's parameter schema.
create function edgeflow.deployment_target(p_name text)
returns jsonb language plpgsql stable set search_path = '' as $$
begin
  return (select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name, 'pool', d.pool, 'queue', d.queue,
    'paused', d.paused, 'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'version_id', v.id, 'version', v.version, 'archived', v.archived,
    'schema', v.definition -> 'parameters')
    from edgeflow.deployments d
    left join lateral (
      select fv.id, fv.version, fv.archived, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where d.name = p_name);
end
$$;

create function edgeflow.pool_json(p_name text)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'name', p.name, 'type', p.type, 'concurrency_limit', p.concurrency_limit,
    'paused', p.paused, 'url', p.url,
    'queues', coalesce((select jsonb_agg(jsonb_build_object(
                 'name', q.name, 'priority', q.priority,
                 'concurrency_limit', q.concurrency_limit, 'paused', q.paused) order by q.name)
               from edgeflow.pool_queues q where q.pool = p.name), '[]'),
    'created_at', edgeflow.iso(p.created_at), 'updated_at', edgeflow.iso(p.updated_at))
    from edgeflow.pools p where p.name = p_name;
$$;

-- Runs newest first, after an optional (created_at, id) cursor.
create function edgeflow.list_runs(p_status text, p_flow text, p_deployment text,
                                   p_limit integer, p_before_at timestamptz, p_before_id uuid)
returns jsonb language sql stable set search_path = '' as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', r.id, 'status', r.status, 'flow', r.flow_name, 'version', r.version,
           'deployment', d.name, 'parameters', r.parameters, 'error', r.error,
           'scheduled_time', edgeflow.iso(r.scheduled_time),
           'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
           'ended_at', edgeflow.iso(r.ended_at),
           'cursor_at', to_char(r.created_at at time zone 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         order by r.created_at desc, r.id desc), '[]')
    from (
      select * from edgeflow.runs r
       where (p_status is null or r.status = p_status)
         and (p_flow is null or r.flow_name = p_flow)
         and (p_deployment is null
              or r.deployment_id = (select id from edgeflow.deployments where name = p_deployment))
         and (p_before_at is null or (r.created_at, r.id) < (p_before_at, p_before_id))
       order by r.created_at desc, r.id desc
       limit p_limit) r
    left join edgeflow.deployments d on d.id = r.deployment_id;
$$;
