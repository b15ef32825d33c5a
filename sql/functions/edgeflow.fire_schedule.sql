-- The tick's one write per due schedule, one transaction: move next_fire_at
-- from the value the tick read (`p_expected`) to `p_next`, and create the
-- runs of `p_times` (unless `p_create` is false: QStash delivers them).
-- A racing or retried tick finds the guard false and does nothing:
-- {skipped: true}. `p_error` records why due fire times made no run.
CREATE OR REPLACE FUNCTION edgeflow.fire_schedule(p_id uuid, p_expected timestamp with time zone, p_times jsonb, p_next timestamp with time zone, p_create boolean DEFAULT true, p_error jsonb DEFAULT NULL::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_times timestamptz[] := array(select jsonb_array_elements_text(coalesce(p_times, '[]'))
                                          ::timestamptz);
  v_result jsonb := jsonb_build_object('created', 0, 'runs', '[]'::jsonb);
begin
  update edgeflow.schedules
     set next_fire_at = p_next, resumed_at = null, last_error = p_error
   where id = p_id and date_trunc('milliseconds', next_fire_at) = p_expected
     and active and not deployment_paused;
  if not found then
    return jsonb_build_object('skipped', true, 'created', 0);
  end if;
  if p_create and cardinality(v_times) > 0 then
    v_result := edgeflow._start_scheduled_runs(p_id, v_times);
    if v_result ? 'error' then
      update edgeflow.schedules set last_error = v_result -> 'error' where id = p_id;
    end if;
  end if;
  return v_result || jsonb_build_object('skipped', false);
end
$function$;
