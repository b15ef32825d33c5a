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
