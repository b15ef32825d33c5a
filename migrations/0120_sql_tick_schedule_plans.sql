-- sql_tick_schedule_plans: written by `deno task sql:migration` from what changed in sql/.

create table edgeflow.schedule_plans (
  schedule_id uuid not null,
  spec jsonb not null,
  timezone text not null,
  parameters jsonb not null,
  version_id uuid,
  times timestamp with time zone[] not null,
  planned_until timestamp with time zone not null,
  final boolean default false not null,
  constraint schedule_plans_pkey PRIMARY KEY (schedule_id),
  constraint schedule_plans_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES edgeflow.schedules(id) ON DELETE CASCADE
);

-- from sql/functions/edgeflow.tick.sql
-- The tick without HTTP, for pg_cron (`select edgeflow.tick()` every
-- minute): what POST /trigger/tick does that SQL can do, in its order —
-- the maintenance pass (edgeflow.maintenance: expired leases, idle runs,
-- Lazarus, waiting runs, pruning), the subflow pass (edgeflow.subflow_tick:
-- retries, orphaned children), and the schedules' planned fire times
-- (edgeflow.fire_planned_schedules). What stays in the HTTP tick: starting
-- subflow children (their parameters are checked against a JSON Schema in
-- TypeScript), planning fire times (croner/rrule), schedules without a
-- usable plan, QStash publishing and push delivery. Safe to run from several
-- jobs at once: each part is guarded as it is for racing HTTP ticks.
CREATE OR REPLACE FUNCTION edgeflow.tick()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.maintenance();
  v_subflows jsonb := edgeflow.subflow_tick();
begin
  return v_sweep || jsonb_build_object('subflows', v_subflows)
         || edgeflow.fire_planned_schedules();
end
$function$;

-- from sql/functions/edgeflow.fire_planned_schedules.sql
-- The scheduler half of edgeflow.tick(): what tickSchedules
-- (shared/scheduler/tick_schedules.ts) does, for the fire times that
-- TypeScript planned ahead (edgeflow.schedule_plans). For each due schedule
-- (the schedules_due index, as edgeflow.due_schedules reads it) whose plan
-- still matches it: the planned fire times up to now + 90 s (the horizon of
-- DEFAULT_HORIZON_MS), the missed ones (before now - 60 s, DEFAULT_GRACE_MS)
-- kept by its catch-up policy as dueFireTimes keeps them, and the next
-- planned one as next_fire_at; written through edgeflow.fire_schedules, so a
-- racing tick (SQL or HTTP) is refused by the same next_fire_at guard and
-- each fire time gets one run. A schedule without a usable plan (none yet,
-- stale, exhausted, parameters that no longer fit) is left to the HTTP tick
-- and counted as `unplanned`. Returns {schedules, created, unplanned, errors}.
CREATE OR REPLACE FUNCTION edgeflow.fire_planned_schedules(p_limit integer DEFAULT 500)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  v_end timestamptz := v_now + interval '90 seconds';
  v_late timestamptz;
  v_from timestamptz;
  v_times timestamptz[];
  v_next timestamptz;
  v_items jsonb := '[]';
  v_unplanned integer := 0;
  v_outcome jsonb;
  v_schedules integer := 0;
  v_created integer := 0;
  v_errors integer := 0;
  s record;
begin
  for s in
    select sc.id, sc.next_fire_at, sc.resumed_at, sc.catchup, sc.max_late, p.times, p.final
      from (select * from edgeflow.schedules
             where active and not deployment_paused and next_fire_at <= v_end
             order by next_fire_at, id limit p_limit) sc
      join edgeflow.deployments d on d.id = sc.deployment_id
      left join lateral (
        select fv.id from edgeflow.flow_versions fv
         where fv.flow_name = d.flow_name
           and (d.version_pin is null or fv.version = d.version_pin)
         order by (d.version_pin is null and fv.archived), fv.version desc
         limit 1) v on true
      left join edgeflow.schedule_plans p
        on p.schedule_id = sc.id and p.spec - 'active' = sc.spec - 'active'
       and p.timezone = sc.timezone and p.parameters = d.parameters || sc.parameters
       and p.version_id is not distinct from v.id and sc.next_fire_at >= p.times[1]
     order by sc.next_fire_at, sc.id
  loop
    v_next := (select min(t) from unnest(s.times) t where t > v_end);
    if s.times is null or (v_next is null and not s.final) then
      v_unplanned := v_unplanned + 1;
      continue;
    end if;
    -- Resumed outside POST /deploy: nothing before the resume is owed.
    v_from := greatest(s.next_fire_at, s.resumed_at);
    v_late := greatest(v_from, v_now - interval '60 seconds');
    v_times := array(
      select t from (
        select t from unnest(s.times) t where t >= v_late and t <= v_end
        union all
        (select t from unnest(s.times) t
          where t >= v_from and t < v_late
            and (s.catchup = 'latest'
                 or (s.catchup = 'all' and t >= v_now - make_interval(secs => s.max_late)))
          order by t desc
          limit case when s.catchup = 'latest' then 1 end)) x
       order by t);
    v_items := v_items || jsonb_build_array(jsonb_build_object(
      'id', s.id, 'expected', edgeflow.iso(date_trunc('milliseconds', s.next_fire_at)),
      'times', to_jsonb(v_times), 'next', v_next, 'create', true, 'error', null));
  end loop;
  for v_outcome in
    select value from jsonb_array_elements(edgeflow.fire_schedules(v_items))
  loop
    if not (v_outcome ->> 'skipped')::boolean then
      v_schedules := v_schedules + 1;
      v_created := v_created + coalesce((v_outcome ->> 'created')::int, 0);
      if v_outcome ? 'error' then
        v_errors := v_errors + 1;
      end if;
    end if;
  end loop;
  return jsonb_build_object('schedules', v_schedules, 'created', v_created,
                            'unplanned', v_unplanned, 'errors', v_errors);
end
$function$;

-- from sql/functions/edgeflow.save_schedule_plans.sql
-- Store plans made in TypeScript: items {id, spec, timezone, parameters,
-- version_id, times, until, final}. A plan made from a state a deploy has
-- changed since is stored too, and ignored: the SQL tick compares it with
-- the schedule, and the next top-up makes it again. Returns the count stored.
CREATE OR REPLACE FUNCTION edgeflow.save_schedule_plans(p_items jsonb)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with live as (
    select s.id from edgeflow.schedules s
     where s.id in (select (i ->> 'id')::uuid from jsonb_array_elements(p_items) i)
     order by s.id
       for key share),
  saved as (
    insert into edgeflow.schedule_plans as p
           (schedule_id, spec, timezone, parameters, version_id, times, planned_until, final)
    select (i ->> 'id')::uuid, i -> 'spec', i ->> 'timezone', i -> 'parameters',
           (i ->> 'version_id')::uuid,
           array(select jsonb_array_elements_text(i -> 'times')::timestamptz),
           (i ->> 'until')::timestamptz, (i ->> 'final')::boolean
      from jsonb_array_elements(p_items) i
     where (i ->> 'id')::uuid in (select id from live)
    on conflict (schedule_id) do update
       set spec = excluded.spec, timezone = excluded.timezone, parameters = excluded.parameters,
           version_id = excluded.version_id, times = excluded.times,
           planned_until = excluded.planned_until, final = excluded.final
    returning 1)
  select count(*)::int from saved;
$function$;

-- from sql/functions/edgeflow.schedules_to_plan.sql
-- Schedules whose plan (edgeflow.schedule_plans) is missing, stale (spec,
-- timezone, parameters or flow version changed since) or past half its span
-- (it ends within half the time it covered, at most p_refill ahead of
-- p_now: a per-minute plan of 16 h is made again after 8 h, not every tick),
-- with what planning needs (as edgeflow.due_schedules gives it).
-- A scan of the active schedules: run by the HTTP tick and the functions'
-- background top-up, not per request.
CREATE OR REPLACE FUNCTION edgeflow.schedules_to_plan(p_now timestamp with time zone, p_refill interval, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'spec', s.spec, 'timezone', s.timezone,
           'next_fire_at', edgeflow.iso(s.next_fire_at),
           'parameters', d.parameters || s.parameters, 'pool', d.pool,
           'version_id', v.id, 'schema', v.definition -> 'parameters')
         order by s.next_fire_at, s.id), '[]')
    from edgeflow.schedules s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id, fv.definition from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
    left join edgeflow.schedule_plans p on p.schedule_id = s.id
   where s.active and not s.deployment_paused and s.next_fire_at is not null
     and (p.schedule_id is null
          or p.spec - 'active' <> s.spec - 'active' or p.timezone <> s.timezone
          or p.parameters <> d.parameters || s.parameters
          or p.version_id is distinct from v.id
          or s.next_fire_at < p.times[1]
          or (not p.final and p.planned_until
                < p_now + least(p_refill, (p.planned_until - p.times[1]) / 2)))
   limit p_limit;
$function$;
