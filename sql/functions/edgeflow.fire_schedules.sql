-- The same for a chunk of due schedules in one transaction: items
-- {id, expected, times, next, create, error}, in the order the tick read
-- them (next_fire_at, id), so racing ticks take row locks in one global
-- order. Why a chunk and not one call per schedule: every commit waits for
-- a WAL flush (5-6 ms on the 2-core bench machine, fdatasync), so 100 due
-- schedules cost 160-250 ms one transaction each, 60-100 ms in chunks of 50
-- (tests/bench/tick.ts). Each item is still all-or-nothing, guarded as above.
CREATE OR REPLACE FUNCTION edgeflow.fire_schedules(p_items jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  i jsonb;
  v_out jsonb := '[]';
begin
  for i in select value from jsonb_array_elements(p_items) loop
    v_out := v_out || jsonb_build_array(edgeflow.fire_schedule(
      (i ->> 'id')::uuid, (i ->> 'expected')::timestamptz, i -> 'times',
      (i ->> 'next')::timestamptz, coalesce((i ->> 'create')::boolean, true),
      nullif(i -> 'error', 'null'::jsonb)));
  end loop;
  return v_out;
end
$function$;
