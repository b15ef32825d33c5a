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
