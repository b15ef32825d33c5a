-- One schedule as the deployment document lists it: the normalised spec plus
-- `id` and `next_fire_at`, and nothing a deploy body would refuse, so a
-- client can send back what it read. `next_fire_at` is null while the
-- schedule cannot fire (inactive, or its deployment paused).
CREATE OR REPLACE FUNCTION edgeflow.schedule_entry_json(s edgeflow.schedules, p_paused boolean)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select s.spec || jsonb_build_object(
    'id', s.id, 'active', s.active,
    'next_fire_at', case when s.active and not p_paused then edgeflow.iso(s.next_fire_at) end);
$function$;
