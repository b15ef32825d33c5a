-- Schedules whose plan (edgeflow.schedule_plans) is missing or made from an
-- older state (plan_gen <> planned_gen: the triggers of schedules,
-- deployments and flow_versions bump plan_gen when spec, timezone,
-- parameters, flow version or liveness change), or due to be made again
-- (refill_at passed: half of it is gone, at most p_refill before its end),
-- with what planning needs (as edgeflow.due_schedules gives it) and the
-- generation it is made from (`gen`, for edgeflow.save_schedule_plans). At
-- most p_limit of them, the earliest first. Both sets come from partial
-- indexes, so an empty tick reads no schedule: comparing every schedule with
-- its plan was 350 ms of a 10,000-schedule tick (63,036 buffers, loaded
-- machine), against 0.2 ms this way. p_refill is kept for callers; the
-- refill time is stored with each plan.
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
           'version_id', x.version_id, 'schema', x.definition -> 'parameters',
           'gen', x.plan_gen)
         order by x.next_fire_at, x.id), '[]')
    from (
      select s.id, s.spec, s.timezone, s.next_fire_at, d.parameters || s.parameters as parameters,
             d.pool, v.id as version_id, v.definition, s.plan_gen
        from (select c.id from (
                (select s1.id, s1.next_fire_at from edgeflow.schedules s1
                  where s1.plan_gen <> s1.planned_gen and s1.active and not s1.deployment_paused
                    and s1.next_fire_at is not null
                  order by s1.next_fire_at, s1.id
                  limit p_limit)
                union
                (select s2.id, s2.next_fire_at from edgeflow.schedule_plans p
                   join edgeflow.schedules s2 on s2.id = p.schedule_id
                  where p.refill_at is not null and p.refill_at < p_now
                    and s2.active and not s2.deployment_paused and s2.next_fire_at is not null
                  order by p.refill_at
                  limit p_limit)) c
              order by c.next_fire_at, c.id
              limit p_limit) c
        join edgeflow.schedules s on s.id = c.id
        join edgeflow.deployments d on d.id = s.deployment_id
        left join lateral (
          select fv.id, fv.definition from edgeflow.flow_versions fv
           where fv.flow_name = d.flow_name
             and (d.version_pin is null or fv.version = d.version_pin)
           order by (d.version_pin is null and fv.archived), fv.version desc
           limit 1) v on true) x;
$function$;
