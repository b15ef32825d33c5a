-- Complete one task under its lease. One result keeps this straight-line
-- path; complete_tasks is the set-based one for batches. Figure that decided
-- it (backend CPU per step, 3-step chains, one connection, same machine):
-- a single completion cost 1.3-1.5 ms here and 3.0-3.2 ms as a one-entry
-- complete_tasks; from 10 results per call the set-based one wins (0.56 ms
-- against 1.0 ms per step). Refusals and DAG progress are the same in both
-- (tests/engine/batch_test.ts).
CREATE OR REPLACE FUNCTION edgeflow.complete_task(p_task_id uuid, p_lease uuid, p_output jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  return edgeflow.complete_tasks(jsonb_build_array(jsonb_build_object(
    'task', p_task_id, 'lease', p_lease, 'output', coalesce(p_output, 'null'::jsonb)))) -> 0;
end
$function$;
