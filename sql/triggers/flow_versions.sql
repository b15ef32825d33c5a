-- The triggers on edgeflow.flow_versions. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. after insert or delete or update, for each row: flow_versions_replan → edgeflow._flow_version_replan() (insert, delete, or archived changed)

-- A new, archived or restored version can change which version the
-- deployments of its flow run, so the plans of their schedules are made
-- again (edgeflow.schedules_to_plan). Registering a flow whose deployments
-- have no schedules updates nothing.
CREATE OR REPLACE FUNCTION edgeflow._flow_version_replan()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_flow text := case when tg_op = 'DELETE' then old.flow_name else new.flow_name end;
begin
  if tg_op = 'UPDATE' and old.archived is not distinct from new.archived then
    return null;
  end if;
  update edgeflow.schedules s set plan_gen = s.plan_gen + 1
    from edgeflow.deployments d
   where d.flow_name = v_flow and s.deployment_id = d.id;
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER flow_versions_replan AFTER INSERT OR DELETE OR UPDATE OF archived ON edgeflow.flow_versions FOR EACH ROW EXECUTE FUNCTION edgeflow._flow_version_replan();
