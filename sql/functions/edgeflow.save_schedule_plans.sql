-- Store plans made in TypeScript: items {id, gen, spec, timezone,
-- parameters, version_id, times, until, final, refill_at}, gen being the
-- schedule's plan_gen the plan was made from (edgeflow.schedules_to_plan). The
-- schedule counts as planned (planned_gen := gen) only while its plan_gen is
-- still gen: a deploy, a new flow version or a parameter change committed in
-- between bumped it, so the schedule is planned again, and the SQL tick
-- ignores the plan meanwhile (it compares the plan with the schedule). An
-- item without gen (an older caller) is stored and leaves the schedule to
-- plan. An item {id, gen, none: true} is a schedule that gets no plan (its
-- parameters do not fit its flow version): it counts as planned and its old
-- plan (which the SQL tick ignores, as it no longer matches) is not made
-- again, so it is not offered on every tick until its inputs change (the
-- SQL tick counts it unplanned; the HTTP tick records why).
-- Returns the count of plans stored.
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
           (schedule_id, spec, timezone, parameters, version_id, times, planned_until, final,
            refill_at)
    select (i ->> 'id')::uuid, i -> 'spec', i ->> 'timezone', i -> 'parameters',
           (i ->> 'version_id')::uuid,
           array(select jsonb_array_elements_text(i -> 'times')::timestamptz),
           (i ->> 'until')::timestamptz, (i ->> 'final')::boolean,
           (i ->> 'refill_at')::timestamptz
      from jsonb_array_elements(p_items) i
     where (i ->> 'id')::uuid in (select id from live)
       and not coalesce((i ->> 'none')::boolean, false)
    on conflict (schedule_id) do update
       set spec = excluded.spec, timezone = excluded.timezone, parameters = excluded.parameters,
           version_id = excluded.version_id, times = excluded.times,
           planned_until = excluded.planned_until, final = excluded.final,
           refill_at = excluded.refill_at
    returning p.schedule_id),
  unplanned as (
    update edgeflow.schedule_plans p set refill_at = null
     where p.schedule_id in (select (i ->> 'id')::uuid from jsonb_array_elements(p_items) i
                              where coalesce((i ->> 'none')::boolean, false))),
  planned as (
    update edgeflow.schedules s set planned_gen = (i ->> 'gen')::bigint
      from jsonb_array_elements(p_items) i
     where s.id = (i ->> 'id')::uuid and s.plan_gen = (i ->> 'gen')::bigint
       and (s.id in (select schedule_id from saved)
            or (coalesce((i ->> 'none')::boolean, false) and s.id in (select id from live))))
  select count(*)::int from saved;
$function$;
