-- The triggers on edgeflow.schedule_plans. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. after delete, for each statement: schedule_plans_deleted → edgeflow._schedule_plans_deleted()

-- A plan deleted while its schedule stays (by hand: nothing in edgeflow
-- deletes one but with its schedule) is made again: its schedule's
-- generation moves past the planned one (edgeflow.schedules_to_plan).
CREATE OR REPLACE FUNCTION edgeflow._schedule_plans_deleted()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules s set plan_gen = s.plan_gen + 1
   where s.id in (select o.schedule_id from old_rows o);
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER schedule_plans_deleted AFTER DELETE ON edgeflow.schedule_plans REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._schedule_plans_deleted();
