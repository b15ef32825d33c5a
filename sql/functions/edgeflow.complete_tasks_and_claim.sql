-- A worker's batch of results and its next claim in one call and one
-- transaction (`POST /heartbeat/tasks/complete` with `next`): the results as
-- edgeflow.complete_tasks accepts or refuses them, entry by entry, then the
-- worker's heartbeat claim as edgeflow.worker_heartbeat makes it (no leases
-- to extend). Returns {results, due, next}: `results` in the order given,
-- `due` as edgeflow.subflows_due() after the results, `next` the heartbeat's
-- answer or its refusal ({"error": "worker_name_taken"}, results still
-- accepted). The claim sees what the results made ready in this transaction
-- (pgmq's visibility is clock_timestamp()), so a chain's next step goes to
-- the worker that finished the step before it, and no other worker sees it
-- until the commit. An exception anywhere aborts both: nothing is accepted,
-- and the worker retries the results as after any failed call.
--
-- The commit waits for the WAL flush as a result's must: edgeflow._claim_next
-- puts back the synchronous_commit the heartbeat turns off.
--
-- Figures (tests/bench/peers/diagnose.ts --only http, 1,500 chains of 3, 8
-- workers, claims of 10, interleaved runs on a quiet machine): as one durable
-- transaction 2,491 and 1,888 steps/s, as two (results, then the claim)
-- 2,430 and 2,088: no difference past the host's noise. A first measurement
-- (1,188/1,312 → 1,444/1,528) was of migration 0259, whose results committed
-- asynchronously under the heartbeat's setting: a durability bug, fixed in
-- 0260, and no gain once fixed. Kept for what it does, not for speed: the
-- worker that finished a step claims its dependents in the same transaction.
-- tests/bench engine.chain.claim1_next (one task per call) runs 0.85-0.96 x
-- engine.chain.claim1: the heartbeat's worker lookup costs more than the
-- claim_tasks call claim1 makes.
CREATE OR REPLACE FUNCTION edgeflow.complete_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_results jsonb := '[]'::jsonb;
  v_due boolean;
begin
  if pg_catalog.jsonb_array_length(p_results) > 0 then
    v_results := edgeflow.complete_tasks(p_results);
  end if;
  v_due := edgeflow.subflows_due();
  return pg_catalog.json_build_object('results', v_results, 'due', v_due,
    'next', edgeflow._claim_next(p_key_id, p_admin, p_worker, p_pool, p_handlers, p_capacity,
                                 p_heartbeat_seconds));
end
$function$;
