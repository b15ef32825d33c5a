-- Complete one task under its lease: complete_tasks with one entry (one code
-- path for single and batched results, HTTP and SQL).
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
