-- A worker's batch of failures and its next claim in one call and one
-- transaction (`POST /heartbeat/tasks/fail` with `next`), as
-- edgeflow.complete_tasks_and_claim is for completions: the failures as
-- edgeflow.fail_tasks accepts or refuses them, entry by entry (a retry is
-- scheduled with its backoff, a last attempt fails the step and the run),
-- then the worker's heartbeat claim as edgeflow.worker_heartbeat makes it.
-- Returns {results, due, next}: `results` in the order given, `due` as
-- edgeflow.subflows_due() after the failures (a child run that failed settles
-- its parent's subflow task), `next` the heartbeat's answer or its refusal
-- ({"error": "worker_name_taken"}, failures still recorded). The slots the
-- failures freed are filled in the same round trip: without it a worker whose
-- handlers fail makes a failure call and then a heartbeat for each batch.
-- An exception anywhere aborts both, and the worker retries the failures.
--
-- The commit waits for the WAL flush as a result's must: edgeflow._claim_next
-- puts back the synchronous_commit the heartbeat turns off.
CREATE OR REPLACE FUNCTION edgeflow.fail_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_results jsonb := '[]'::jsonb;
  v_due boolean;
begin
  if pg_catalog.jsonb_array_length(p_results) > 0 then
    v_results := edgeflow.fail_tasks(p_results);
  end if;
  v_due := edgeflow.subflows_due();
  return pg_catalog.json_build_object('results', v_results, 'due', v_due,
    'next', edgeflow._claim_next(p_key_id, p_admin, p_worker, p_pool, p_handlers, p_capacity,
                                 p_heartbeat_seconds));
end
$function$;
