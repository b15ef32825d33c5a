-- Pause or resume a deployment. Its schedules keep their own `active` flags:
-- a paused deployment fires none of them (the trigger route refuses it with
-- 409 and the scheduler skips it), and resuming brings back exactly the
-- schedules that were active before, which flipping every schedule would
-- lose. Returns the deployment document, or null for an unknown name.
CREATE OR REPLACE FUNCTION edgeflow.ui_set_deployment_paused(p_name text, p_paused boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  update edgeflow.deployments
     set paused = p_paused,
         updated_at = case when paused is distinct from p_paused then edgeflow.now() else updated_at end
   where name = p_name
  returning id into v_id;
  return edgeflow.deployment_json(v_id);
end
$function$;
