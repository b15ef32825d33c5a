-- Create or update a deployment and replace its schedule set, in one
-- transaction. `p_schedules` is the final set, decided by the API layer
-- (shared/scheduler/deploy_schedules.ts): entries with an `id` update that
-- schedule, entries without one are new; schedules left out are deleted.
CREATE OR REPLACE FUNCTION edgeflow.deploy(p jsonb, p_schedules jsonb, p_version text, p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v jsonb;
  v_state jsonb;
  v_old record;
  v_new record;
  v_id uuid;
  v_withdraw uuid[];
  v_first jsonb;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.deploy:' || (p ->> 'name')));
  -- The row lock an update takes, so a pause by another path waits for us;
  -- not FOR UPDATE, which would also block the runs that reference the row.
  select id, flow_name, version_pin, pool, queue, tags, parameters, paused into v_old
    from edgeflow.deployments where name = p ->> 'name' for no key update;
  -- The schedules' rows too, in the tick's order (next_fire_at, id): a tick
  -- that read one before this deploy finds its guard false afterwards.
  perform 1 from edgeflow.schedules where deployment_id = v_old.id
   order by next_fire_at, id for update;
  v_state := edgeflow.deploy_state(p ->> 'name');
  if p_version is distinct from v_state ->> 'version' then
    return jsonb_build_object('conflict', true, 'state', v_state);
  end if;

  v := edgeflow.upsert_deployment(p);
  if v ? 'error' then
    return v;
  end if;
  v_id := (v -> 'deployment' ->> 'id')::uuid;
  select flow_name, version_pin, pool, queue, tags, parameters, paused into v_new
    from edgeflow.deployments where id = v_id;

  -- Schedules whose planned runs no longer match: removed, changed, or all
  -- of them when the deployment changed what its runs are made of or was
  -- paused (a paused deployment starts nothing new, as in Prefect).
  v_withdraw := array(
    select s.id from edgeflow.schedules s
      left join jsonb_to_recordset(p_schedules) as e(id uuid, spec jsonb) on e.id = s.id
     where s.deployment_id = v_id
       and (e.id is null or e.spec is distinct from s.spec
            or (v_old.flow_name, v_old.version_pin, v_old.pool, v_old.queue, v_old.tags,
                v_old.parameters)
               is distinct from (v_new.flow_name, v_new.version_pin, v_new.pool, v_new.queue,
                                 v_new.tags, v_new.parameters)
            or (v_new.paused and not v_old.paused)));
  v_first := edgeflow._withdraw_planned_runs(v_withdraw, p_now);

  delete from edgeflow.schedules s
   where s.deployment_id = v_id
     and s.id not in (select (e ->> 'id')::uuid from jsonb_array_elements(p_schedules) e
                       where e ->> 'id' is not null);
  -- A schedule that keeps its fire times (the plan kept its next_fire_at)
  -- fires again from its earliest withdrawn run; one whose timing changed
  -- starts from the plan's next fire time after now.
  update edgeflow.schedules s
     set position = e.position, kind = e.kind, spec = e.spec, timezone = e.timezone,
         parameters = e.parameters, active = e.active, catchup = e.catchup,
         max_late = e.max_late,
         next_fire_at = case when e.keeps_fire_times
                             then least(e.next_fire_at, (v_first ->> s.id::text)::timestamptz)
                             else e.next_fire_at end,
         resumed_at = null, deployment_paused = v_new.paused,
         last_error = case when s.spec = e.spec then s.last_error end,
         updated_at = case when s.spec = e.spec and s.active = e.active then s.updated_at
                           else edgeflow.now() end
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz,
                                               keeps_fire_times boolean)
   where e.id is not null and s.id = e.id and s.deployment_id = v_id;
  -- created_at is the API's clock reading that anchored the spec's defaults
  -- (an interval's anchor), so a redeploy can read the same body the same way.
  insert into edgeflow.schedules (deployment_id, position, kind, spec, timezone, parameters,
                                  active, catchup, max_late, next_fire_at, deployment_paused,
                                  created_at)
  select v_id, e.position, e.kind, e.spec, e.timezone, e.parameters, e.active, e.catchup,
         e.max_late, e.next_fire_at, v_new.paused, coalesce(e.created_at, edgeflow.now())
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz, created_at timestamptz)
   where e.id is null;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id),
                            'created', v -> 'created');
end
$function$;
