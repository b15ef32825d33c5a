-- Firing schedules: the tick's read of due schedules, its one guarded write
-- per schedule, and the QStash callback that creates one scheduled run.
--
-- Why no `for update skip locked` on the read: two ticks may both read the
-- same due schedule, compute the same fire times, and both call
-- fire_schedule. The update guarded by `next_fire_at = <value read>` lets
-- exactly one of them through (the other blocks on the row lock, re-checks
-- the guard against the committed row and updates nothing), and the unique
-- (schedule, fire time) idempotency key of the run is the second fence for
-- paths that create runs without advancing the schedule (QStash callbacks).
-- A plain read keeps the tick one index range scan plus one call per due
-- schedule, with no lock held across the TypeScript in between.

-- Deduplication of inbound QStash deliveries by Upstash-Message-Id.
create table edgeflow.qstash_deliveries (
  message_id text primary key,
  schedule_id uuid,
  scheduled_time timestamptz,
  result jsonb,
  received_at timestamptz not null default now()
);
create index qstash_deliveries_received on edgeflow.qstash_deliveries (received_at);

-- Due schedules, soonest first, with what the tick needs to fire them: the
-- parameters of their runs (deployment defaults overlaid by the schedule's,
-- shallowly, as for a trigger) and the parameter schema of the version they
-- would run. Reads the partial index schedules_due only.
create function edgeflow.due_schedules(p_until timestamptz, p_limit integer)
returns jsonb language sql stable set search_path = '' as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'spec', s.spec, 'next_fire_at', edgeflow.iso(s.next_fire_at),
           'resumed_at', edgeflow.iso(s.resumed_at),
           'parameters', d.parameters || s.parameters, 'pool', d.pool,
           'version_id', v.id, 'schema', v.definition -> 'parameters')
         order by s.next_fire_at, s.id), '[]')
    from (select * from edgeflow.schedules
           where active and not deployment_paused and next_fire_at <= p_until
           order by next_fire_at, id limit p_limit) s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true;
$$;

-- One schedule's target, as due_schedules describes it (QStash callbacks).
create function edgeflow.schedule_target(p_id uuid)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
           'id', s.id, 'spec', s.spec, 'active', s.active, 'paused', d.paused,
           'parameters', d.parameters || s.parameters, 'pool', d.pool,
           'version_id', v.id, 'schema', v.definition -> 'parameters')
    from edgeflow.schedules s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where s.id = p_id;
$$;

-- Start the runs of a schedule for the given fire times through start_run:
-- SCHEDULED until their time, with the deployment's pool, queue and tags and
-- the merged parameters. The idempotency key (scope `schedule:<id>`, key the
-- fire time) makes a second request for the same fire time return the first
-- run, whoever asks. Returns {created, runs, error?}.
create function edgeflow._start_scheduled_runs(p_id uuid, p_times timestamptz[])
returns jsonb language plpgsql set search_path = '' as $$
declare
  t record;
  v_time timestamptz;
  v_run jsonb;
  v_runs jsonb := '[]';
  v_created integer := 0;
begin
  select d.id as deployment_id, d.pool, d.queue, d.tags, d.parameters || s.parameters as params,
         v.id as version_id
    into t
    from edgeflow.schedules s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where s.id = p_id;
  if t.version_id is null then
    return jsonb_build_object('created', 0, 'runs', '[]'::jsonb,
                              'error', jsonb_build_object('code', 'no_version',
                                'message', 'the deployment has no flow version to run'));
  end if;
  foreach v_time in array p_times loop
    v_run := edgeflow.start_run(t.version_id, t.params, jsonb_build_object(
      'deployment_id', t.deployment_id, 'pool', t.pool, 'queue', t.queue,
      'tags', to_jsonb(t.tags), 'scheduled_time', edgeflow.iso(v_time),
      'idempotency_scope', 'schedule:' || p_id, 'idempotency_key', edgeflow.iso(v_time)));
    if v_run ? 'error' then
      return jsonb_build_object('created', v_created, 'runs', v_runs,
                                'error', jsonb_build_object('code', v_run ->> 'error',
                                  'message', 'start_run refused the scheduled run'));
    end if;
    if (v_run ->> 'created')::boolean then
      v_created := v_created + 1;
    end if;
    v_runs := v_runs || jsonb_build_array(jsonb_build_object(
      'run_id', v_run -> 'run_id', 'scheduled_time', edgeflow.iso(v_time),
      'created', v_run -> 'created'));
  end loop;
  return jsonb_build_object('created', v_created, 'runs', v_runs);
end
$$;

-- The tick's one write per due schedule, one transaction: move next_fire_at
-- from the value the tick read (`p_expected`) to `p_next`, and create the
-- runs of `p_times` (unless `p_create` is false: QStash delivers them).
-- A racing or retried tick finds the guard false and does nothing:
-- {skipped: true}. `p_error` records why due fire times made no run.
create function edgeflow.fire_schedule(p_id uuid, p_expected timestamptz, p_times jsonb,
                                       p_next timestamptz, p_create boolean default true,
                                       p_error jsonb default null)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_times timestamptz[] := array(select jsonb_array_elements_text(coalesce(p_times, '[]'))
                                          ::timestamptz);
  v_result jsonb := jsonb_build_object('created', 0, 'runs', '[]'::jsonb);
begin
  update edgeflow.schedules
     set next_fire_at = p_next, resumed_at = null, last_error = p_error
   where id = p_id and date_trunc('milliseconds', next_fire_at) = p_expected
     and active and not deployment_paused;
  if not found then
    return jsonb_build_object('skipped', true, 'created', 0);
  end if;
  if p_create and cardinality(v_times) > 0 then
    v_result := edgeflow._start_scheduled_runs(p_id, v_times);
    if v_result ? 'error' then
      update edgeflow.schedules set last_error = v_result -> 'error' where id = p_id;
    end if;
  end if;
  return v_result || jsonb_build_object('skipped', false);
end
$$;

-- The same for a chunk of due schedules in one transaction: items
-- {id, expected, times, next, create, error}, in the order the tick read
-- them (next_fire_at, id), so racing ticks take row locks in one global
-- order. Why a chunk and not one call per schedule: every commit waits for
-- a WAL flush (5-6 ms on the 2-core bench machine, fdatasync), so 100 due
-- schedules cost 160-250 ms one transaction each, 60-100 ms in chunks of 50
-- (tests/bench/tick.ts). Each item is still all-or-nothing, guarded as above.
create function edgeflow.fire_schedules(p_items jsonb)
returns jsonb language plpgsql set search_path = '' as $$
declare
  i jsonb;
  v_out jsonb := '[]';
begin
  for i in select value from jsonb_array_elements(p_items) loop
    v_out := v_out || jsonb_build_array(edgeflow.fire_schedule(
      (i ->> 'id')::uuid, (i ->> 'expected')::timestamptz, i -> 'times',
      (i ->> 'next')::timestamptz, coalesce((i ->> 'create')::boolean, true),
      nullif(i -> 'error', 'null'::jsonb)));
  end loop;
  return v_out;
end
$$;

-- A QStash delivery for one fire time: create its run once. The delivery is
-- recorded under its message id in the same transaction, so a redelivery
-- returns the first answer and creates nothing; the run's (schedule, time)
-- key covers a fire time that reaches us twice under different messages.
create function edgeflow.fire_schedule_at(p_id uuid, p_time timestamptz, p_message_id text)
returns jsonb language plpgsql set search_path = '' as $$
declare
  s record;
  v_result jsonb;
begin
  if p_message_id is not null then
    insert into edgeflow.qstash_deliveries (message_id, schedule_id, scheduled_time)
    values (p_message_id, p_id, p_time) on conflict do nothing;
    if not found then
      select result into v_result from edgeflow.qstash_deliveries
       where message_id = p_message_id;
      return coalesce(v_result, '{}') || jsonb_build_object('duplicate', true, 'created', 0);
    end if;
  end if;
  select sc.active, sc.deployment_paused into s from edgeflow.schedules sc where sc.id = p_id;
  if not found then
    v_result := jsonb_build_object('created', 0, 'skipped', 'no such schedule');
  elsif not s.active or s.deployment_paused then
    v_result := jsonb_build_object('created', 0, 'skipped', 'the schedule is paused');
  else
    v_result := edgeflow._start_scheduled_runs(p_id, array[p_time]);
    if v_result ? 'error' then
      update edgeflow.schedules set last_error = v_result -> 'error' where id = p_id;
    end if;
  end if;
  if p_message_id is not null then
    update edgeflow.qstash_deliveries set result = v_result where message_id = p_message_id;
  end if;
  return v_result || jsonb_build_object('duplicate', false);
end
$$;

-- Delivery records outlive QStash's retries (days) by far after 30 days.
create function edgeflow.prune_qstash_deliveries(p_limit integer default 1000)
returns integer language sql set search_path = '' as $$
  with gone as (
    delete from edgeflow.qstash_deliveries
     where message_id in (select message_id from edgeflow.qstash_deliveries
                           where received_at < now() - interval '30 days'
                           order by received_at limit p_limit)
    returning 1)
  select count(*)::integer from gone;
$$;
