-- Deployment schedules: the table, the deployment pause rule, and the
-- deployment read model with its schedules. Fire-time arithmetic lives in
-- TypeScript (shared/schedule); the database stores each schedule's next
-- fire time and guards every change of it (0012).

create table edgeflow.schedules (
  id uuid primary key default gen_random_uuid(),
  deployment_id uuid not null references edgeflow.deployments (id) on delete cascade,
  -- Order in the deployment body, so the read model lists them as deployed.
  position integer not null,
  kind text not null check (kind in ('cron', 'interval', 'rrule')),
  -- `scheduleToJson(spec)`: every default explicit (interval anchor, rrule
  -- DTSTART), so parsing it again gives the same fire times on any day.
  spec jsonb not null,
  timezone text not null,
  parameters jsonb not null default '{}',
  active boolean not null default true,
  catchup text not null default 'latest' check (catchup in ('none', 'latest', 'all')),
  max_late integer not null default 3600 check (max_late >= 0),
  -- The earliest fire time not yet handled; null once the schedule has ended.
  next_fire_at timestamptz,
  -- Mirror of deployments.paused (trigger below), so the due index can leave
  -- out paused deployments instead of the tick reading them over and over.
  deployment_paused boolean not null default false,
  -- Set when the deployment is resumed outside POST /deploy: the tick then
  -- skips fire times before it (a pause is not an outage; no catch-up).
  resumed_at timestamptz,
  -- Why the last due fire times created no run (archived version, bad parameters).
  last_error jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The tick reads due schedules through this index only: its cost follows the
-- number of due schedules, not the number of schedules.
create index schedules_due on edgeflow.schedules (next_fire_at, id)
  where active and not deployment_paused and next_fire_at is not null;
create index schedules_deployment on edgeflow.schedules (deployment_id, position);

-- Pausing a deployment pauses its schedules, whichever path changes the flag.
create function edgeflow._deployment_pause_schedules()
returns trigger language plpgsql set search_path = '' as $$
begin
  update edgeflow.schedules
     set deployment_paused = new.paused,
         resumed_at = case when new.paused then resumed_at else now() end
   where deployment_id = new.id;
  return null;
end
$$;

create trigger deployments_pause_schedules
  after update of paused on edgeflow.deployments
  for each row when (old.paused is distinct from new.paused)
  execute function edgeflow._deployment_pause_schedules();

-- One schedule as the deployment document lists it: the normalised spec plus
-- `id` and `next_fire_at`, and nothing a deploy body would refuse, so a
-- client can send back what it read. `next_fire_at` is null while the
-- schedule cannot fire (inactive, or its deployment paused).
create function edgeflow.schedule_entry_json(s edgeflow.schedules, p_paused boolean)
returns jsonb language sql stable set search_path = '' as $$
  select s.spec || jsonb_build_object(
    'id', s.id, 'active', s.active,
    'next_fire_at', case when s.active and not p_paused then edgeflow.iso(s.next_fire_at) end);
$$;

-- The deployment document (0010's, now with its schedules).
create or replace function edgeflow.deployment_json(p_id uuid)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name,
    'version', coalesce(to_jsonb(d.version_pin), '"latest"'::jsonb),
    'pool', d.pool, 'queue', d.queue, 'description', d.description,
    'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'concurrency_limit', d.concurrency_limit, 'collision_strategy', d.collision_strategy,
    'paused', d.paused, 'job_variables', d.job_variables,
    'schedules', coalesce((
      select jsonb_agg(edgeflow.schedule_entry_json(s, d.paused) order by s.position)
        from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb),
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$$;

-- A schedule on its own (schedule routes): the entry plus its bookkeeping.
create function edgeflow.schedule_json(p_id uuid)
returns jsonb language sql stable set search_path = '' as $$
  select edgeflow.schedule_entry_json(s, d.paused) || jsonb_build_object(
    'deployment', d.name, 'kind', s.kind, 'deployment_paused', d.paused,
    'last_error', s.last_error,
    'created_at', edgeflow.iso(s.created_at), 'updated_at', edgeflow.iso(s.updated_at))
    from edgeflow.schedules s join edgeflow.deployments d on d.id = s.deployment_id
   where s.id = p_id;
$$;

-- Create or update a deployment and replace its schedule set, in one
-- transaction. `p_schedules` is the final set, decided by the API layer
-- (shared/scheduler/deploy_schedules.ts): entries with an `id` update that
-- schedule, entries without one are new; schedules left out are deleted.
create function edgeflow.deploy(p jsonb, p_schedules jsonb)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v jsonb := edgeflow.upsert_deployment(p);
  v_id uuid;
  v_paused boolean;
begin
  if v ? 'error' then
    return v;
  end if;
  v_id := (v -> 'deployment' ->> 'id')::uuid;
  select paused into v_paused from edgeflow.deployments where id = v_id;
  delete from edgeflow.schedules s
   where s.deployment_id = v_id
     and s.id not in (select (e ->> 'id')::uuid from jsonb_array_elements(p_schedules) e
                       where e ->> 'id' is not null);
  update edgeflow.schedules s
     set position = e.position, kind = e.kind, spec = e.spec, timezone = e.timezone,
         parameters = e.parameters, active = e.active, catchup = e.catchup,
         max_late = e.max_late, next_fire_at = e.next_fire_at, resumed_at = null,
         deployment_paused = v_paused,
         last_error = case when s.spec = e.spec then s.last_error end,
         updated_at = case when s.spec = e.spec and s.active = e.active then s.updated_at
                           else now() end
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz)
   where e.id is not null and s.id = e.id and s.deployment_id = v_id;
  -- created_at is the API's clock reading that anchored the spec's defaults
  -- (an interval's anchor), so a redeploy can read the same body the same way.
  insert into edgeflow.schedules (deployment_id, position, kind, spec, timezone, parameters,
                                  active, catchup, max_late, next_fire_at, deployment_paused,
                                  created_at)
  select v_id, e.position, e.kind, e.spec, e.timezone, e.parameters, e.active, e.catchup,
         e.max_late, e.next_fire_at, v_paused, coalesce(e.created_at, now())
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz, created_at timestamptz)
   where e.id is null;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id),
                            'created', v -> 'created');
end
$$;
