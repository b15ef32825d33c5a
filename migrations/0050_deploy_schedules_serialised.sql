-- POST /deploy, safe under concurrency and edits (issue 18, issue 10 item 2).
--
-- 1. Concurrent deploys of one deployment. The API plans the schedule set
--    from a read of the deployment (`deploy_state`) and sends the plan with
--    the `version` of what it read. `deploy` takes the deployment's lock
--    (an advisory lock on its name, so a deployment that does not exist yet
--    is covered too) and the rows of its schedules, and writes only if the
--    deployment is still what the plan was made from; otherwise it answers
--    {conflict, state} with the fresh state, and the API plans again from it
--    (no extra read). One round trip when nobody races; deploys of one
--    deployment are applied one after the other, each to the state it saw,
--    so identical bodies converge on the ids a sequential redeploy keeps and
--    different bodies leave one body's schedules whole.
--
-- 2. Editing or removing a schedule. Ticks create runs up to 90 s ahead. A
--    schedule that is removed, whose spec changes (parameters, timezone,
--    cron, active...), or whose deployment changes what its runs are made
--    of (parameters, pool, queue, tags, flow, version) or is paused, and a
--    schedule paused on its own (pause_schedule), withdraws its planned runs
--    that have not started and whose fire time is after the caller's clock,
--    in the same transaction. A schedule kept under its id whose fire times
--    did not change is planned again from the earliest withdrawn fire time,
--    so the next tick recreates those runs with the new values: one run per
--    fire time, never a stale one beside a fresh one.

-- The deployment as a deploy plans against it: paused flag, schedules in
-- body order, and a version that changes whenever any of it changes. The
-- read the API makes before planning, and what a conflicting deploy returns.
create function edgeflow.deploy_state(p_name text)
returns jsonb language sql stable set search_path = '' as $$
  select coalesce((
    select jsonb_build_object(
      'version', pg_catalog.md5(d.id::text || '|' || d.paused::text || '|' || coalesce((
        select pg_catalog.string_agg(
                 s.id::text || '|' || s.position || '|' || s.spec::text || '|' || s.active
                 || '|' || coalesce(edgeflow.iso(s.next_fire_at), '-') || '|'
                 || edgeflow.iso(s.created_at), ';' order by s.position, s.id)
          from edgeflow.schedules s where s.deployment_id = d.id), '')),
      'paused', d.paused,
      'schedules', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'id', s.id, 'spec', s.spec, 'active', s.active,
                 'next_fire_at', edgeflow.iso(s.next_fire_at),
                 'created_at', edgeflow.iso(s.created_at)) order by s.position, s.id)
          from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb))
      from edgeflow.deployments d where d.name = p_name),
    jsonb_build_object('version', 'none', 'paused', false, 'schedules', '[]'::jsonb));
$$;

-- Withdraw the planned runs of schedules `p_ids`: runs whose fire time is
-- after `p_after`, that have not started (SCHEDULED or PENDING, every task
-- still QUEUED). They are deleted with their queued messages and slots, as
-- Prefect deletes the auto-scheduled runs of a changed deployment; a freed
-- deployment slot goes to the next waiting run. Returns {schedule id:
-- earliest withdrawn fire time} for the schedules that had any.
create function edgeflow._withdraw_planned_runs(p_ids uuid[], p_after timestamptz)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_sid uuid;
  r record;
  t record;
  v_first jsonb := '{}';
  v_deployments uuid[] := '{}';
  v_freed boolean;
begin
  foreach v_sid in array coalesce(p_ids, '{}') loop
    for r in
      select id, deployment_id, scheduled_time, status from edgeflow.runs
       where idempotency_scope = 'schedule:' || v_sid and idempotency_key is not null
         and scheduled_time > p_after and status in ('SCHEDULED', 'PENDING')
       order by scheduled_time
         for update
    loop
      -- Re-checked under the run's lock: a claim may have just started it.
      continue when r.status not in ('SCHEDULED', 'PENDING')
        or exists (select 1 from edgeflow.tasks where run_id = r.id and status <> 'QUEUED');
      for t in select queue_name, msg_id from edgeflow.tasks
                where run_id = r.id and msg_id is not null loop
        perform pgmq.delete(t.queue_name, t.msg_id);
      end loop;
      with gone as (delete from edgeflow.slots where run_id = r.id returning limit_key)
      select coalesce(bool_or(limit_key = 'deployment:' || r.deployment_id), false)
        into v_freed from gone;
      if v_freed and not r.deployment_id = any(v_deployments) then
        v_deployments := v_deployments || r.deployment_id;
      end if;
      delete from edgeflow.runs where id = r.id;
      if not v_first ? v_sid::text then
        v_first := v_first || jsonb_build_object(v_sid::text, edgeflow.iso(r.scheduled_time));
      end if;
    end loop;
  end loop;
  foreach v_sid in array v_deployments loop
    perform edgeflow._admit_waiting(v_sid);
  end loop;
  return v_first;
end
$$;

-- The racy two-argument form (0011) is replaced by this one: `p_version` is
-- the `deploy_state` version the plan was made from, `p_now` the API's clock
-- (planned runs after it are withdrawn, as above).
drop function edgeflow.deploy(jsonb, jsonb);

create function edgeflow.deploy(p jsonb, p_schedules jsonb, p_version text, p_now timestamptz)
returns jsonb language plpgsql set search_path = '' as $$
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
                           else now() end
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
         e.max_late, e.next_fire_at, v_new.paused, coalesce(e.created_at, now())
    from jsonb_to_recordset(p_schedules) as e(id uuid, position integer, kind text, spec jsonb,
                                               timezone text, parameters jsonb, active boolean,
                                               catchup text, max_late integer,
                                               next_fire_at timestamptz, created_at timestamptz)
   where e.id is null;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id),
                            'created', v -> 'created');
end
$$;

-- Pausing one schedule (POST .../schedules/:id/pause): inactive, and its
-- planned runs after `p_now` that have not started are withdrawn, as a
-- deploy with `active: false` does. Returns whether it was active.
create function edgeflow.pause_schedule(p_id uuid, p_now timestamptz)
returns boolean language plpgsql set search_path = '' as $$
begin
  update edgeflow.schedules
     set active = false, spec = jsonb_set(spec, '{active}', 'false'), updated_at = now()
   where id = p_id and active;
  if not found then
    return false;
  end if;
  perform edgeflow._withdraw_planned_runs(array[p_id], p_now);
  return true;
end
$$;

-- Pausing a deployment by any path (0011's trigger: the UI, SQL) also
-- withdraws its schedules' planned runs that have not started, by the
-- database clock; POST /deploy withdraws them by its own clock as well.
create or replace function edgeflow._deployment_pause_schedules()
returns trigger language plpgsql set search_path = '' as $$
begin
  update edgeflow.schedules
     set deployment_paused = new.paused,
         resumed_at = case when new.paused then resumed_at else now() end
   where deployment_id = new.id;
  if new.paused then
    perform edgeflow._withdraw_planned_runs(
      array(select id from edgeflow.schedules where deployment_id = new.id), now());
  end if;
  return null;
end
$$;
