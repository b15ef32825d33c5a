-- Create or update a deployment and replace its schedule set, in one
-- transaction. `p_schedules` is the final set, decided by the API layer
-- (shared/scheduler/deploy_schedules.ts): entries with an `id` update that
-- schedule, entries without one are new; schedules left out are deleted.
CREATE OR REPLACE FUNCTION edgeflow.deploy(p jsonb, p_schedules jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;
