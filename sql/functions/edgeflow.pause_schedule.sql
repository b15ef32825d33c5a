-- Pausing one schedule (POST .../schedules/:id/pause): inactive, and its
-- planned runs after `p_now` that have not started are withdrawn, as a
-- deploy with `active: false` does. Returns whether it was active.
CREATE OR REPLACE FUNCTION edgeflow.pause_schedule(p_id uuid, p_now timestamp with time zone)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules
     set active = false, spec = jsonb_set(spec, '{active}', 'false'), updated_at = edgeflow.now()
   where id = p_id and active;
  if not found then
    return false;
  end if;
  perform edgeflow._withdraw_planned_runs(array[p_id], p_now);
  return true;
end
$function$;
