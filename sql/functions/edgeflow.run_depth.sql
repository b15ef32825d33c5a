-- How many parent links lead up from a run to its top-level ancestor.
CREATE OR REPLACE FUNCTION edgeflow.run_depth(p_run_id uuid)
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with recursive up (run_id, depth) as (
    select p_run_id, 0
    union all
    select pt.run_id, up.depth + 1
      from up
      join edgeflow.runs r on r.id = up.run_id
      join edgeflow.tasks pt on pt.id = r.parent_task_id
     where up.depth < 10000)
  select max(depth) from up;
$function$;
