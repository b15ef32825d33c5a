-- Schedules whose plan (edgeflow.schedule_plans) is missing, stale (spec,
-- timezone, parameters or flow version changed since) or past half its span
-- (it ends within half the time it covered, at most p_refill ahead of
-- p_now: a per-minute plan of 16 h is made again after 8 h, not every tick),
-- with what planning needs (as edgeflow.due_schedules gives it).
-- A scan of the active schedules: run by the HTTP tick and the functions'
-- background top-up, not per request. At most p_limit of them, the earliest
-- first: the limit is applied before the documents are built (it once applied
-- to the aggregate's single row, so every tick built all 10,000 documents of
-- the tick bench's unplanned schedules: 155 ms of its 330 ms).
CREATE OR REPLACE FUNCTION edgeflow.schedules_to_plan(p_now timestamp with time zone, p_refill interval, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', x.id, 'spec', x.spec, 'timezone', x.timezone,
           'next_fire_at', edgeflow.iso(x.next_fire_at),
           'parameters', x.parameters, 'pool', x.pool,
           'version_id', x.version_id, 'schema', x.definition -> 'parameters')
         order by x.next_fire_at, x.id), '[]')
    from (
      select s.id, s.spec, s.timezone, s.next_fire_at, d.parameters || s.parameters as parameters,
             d.pool, v.id as version_id, v.definition
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
       order by s.next_fire_at, s.id
       limit p_limit) x;
$function$;
