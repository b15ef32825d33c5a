-- One task's document: _tasks_json of one id (null when there is no such task).
-- plpgsql, not sql: a SQL-language function with a SET clause is planned
-- anew on every call (0.8 ms here, the most expensive part of a claim);
-- plpgsql keeps the plan for the session.
CREATE OR REPLACE FUNCTION edgeflow._task_json(p_task_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  return (edgeflow._tasks_json(array[p_task_id]) -> 0)::jsonb;
end
$function$;
