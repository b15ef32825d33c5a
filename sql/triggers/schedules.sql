-- The triggers on edgeflow.schedules. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. before update, for each row: schedules_plan_gen → edgeflow._schedule_plan_gen() when (a plan's input changed)

-- A change to what a schedule's plan is made from (spec, timezone,
-- parameters, whether it is live, next_fire_at moved back) makes its plan
-- old: edgeflow.schedules_to_plan finds it by the index on plan_gen <>
-- planned_gen. A fire moving next_fire_at forward does not: the plan holds
-- the times after it. Every other update passes by on the WHEN clause.
CREATE OR REPLACE FUNCTION edgeflow._schedule_plan_gen()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.plan_gen := old.plan_gen + 1;
  return new;
end
$function$;

CREATE OR REPLACE TRIGGER schedules_plan_gen BEFORE UPDATE ON edgeflow.schedules FOR EACH ROW WHEN ((((old.spec - 'active'::text) IS DISTINCT FROM (new.spec - 'active'::text)) OR (old.timezone IS DISTINCT FROM new.timezone) OR (old.parameters IS DISTINCT FROM new.parameters) OR (old.active IS DISTINCT FROM new.active) OR (old.deployment_paused IS DISTINCT FROM new.deployment_paused) OR (old.deployment_id IS DISTINCT FROM new.deployment_id) OR ((new.next_fire_at IS NULL) <> (old.next_fire_at IS NULL)) OR (new.next_fire_at < old.next_fire_at))) EXECUTE FUNCTION edgeflow._schedule_plan_gen();
