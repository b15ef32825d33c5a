-- Complete many tasks in one statement: a worker that claimed a batch hands
-- its results back in one round trip and one commit instead of one of each
-- per task (per-task calls keep a batch worker round-trip bound).
--
-- Each entry goes through edgeflow.complete_task, so locking, refusals
-- (`stale_lease`, `not_found`, `run_not_running`) and DAG progress are exactly
-- those of single completions. Entries are applied in run order, so two
-- batches holding tasks of the same runs (map steps) take the run locks in the
-- same order and cannot deadlock on each other; outcomes come back in the
-- order of `p_results`. One transaction: an exception aborts the whole batch.
CREATE OR REPLACE FUNCTION edgeflow.complete_tasks(p_results jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  v_out jsonb[] := '{}';
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of {task, lease, output}'
      using errcode = '22023';
  end if;
  for e in
    select x.ord::integer as ord, (x.value ->> 'task')::uuid as task,
           (x.value ->> 'lease')::uuid as lease, coalesce(x.value -> 'output', 'null') as output
      from jsonb_array_elements(p_results) with ordinality as x(value, ord)
      left join edgeflow.tasks t on t.id = (x.value ->> 'task')::uuid
     order by t.run_id, x.ord
  loop
    v_out[e.ord] := edgeflow.complete_task(e.task, e.lease, e.output);
  end loop;
  return to_jsonb(v_out);
end
$function$;
