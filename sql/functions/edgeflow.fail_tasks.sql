-- Fail many attempts in one call: a worker's batch of failures in one round
-- trip and one transaction. Each entry `{task, lease, error, retryable}` goes
-- through fail_task (retry with backoff, or fail the step and the run), in run
-- order so that two batches over the same runs take their locks in the same
-- order; outcomes come back in the order of `p_results`. Failures are the
-- rare result (a retry is an exception path); one call per batch is what
-- decides a worker's throughput, not the statements inside it.
CREATE OR REPLACE FUNCTION edgeflow.fail_tasks(p_results jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  v_out jsonb[] := '{}';
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'fail_tasks expects a JSON array of {task, lease, error, retryable}'
      using errcode = '22023';
  end if;
  for e in
    select x.ord::integer as ord, (x.value ->> 'task')::uuid as task,
           (x.value ->> 'lease')::uuid as lease, coalesce(x.value -> 'error', '{}') as error,
           coalesce((x.value ->> 'retryable')::boolean, true) as retryable
      from jsonb_array_elements(p_results) with ordinality as x(value, ord)
      left join edgeflow.tasks t on t.id = (x.value ->> 'task')::uuid
     order by t.run_id, x.ord
  loop
    v_out[e.ord] := edgeflow.fail_task(e.task, e.lease, e.error, e.retryable);
  end loop;
  return to_jsonb(v_out);
end
$function$;
