-- complete_and_claim_commits_durably: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.complete_tasks_and_claim.sql
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
-- The commit waits for the WAL flush as a result's must: edgeflow.heartbeat
-- turns synchronous_commit off for its transaction (a heartbeat alone may be
-- lost), so the setting the call began with is put back after the claim.
--
-- Figure that decided it: the same batch as two transactions (results, then
-- the claim) committed twice per batch; one commit is one WAL flush fewer.
-- tests/bench/peers/diagnose.ts --only http, 1,500 chains of 3, 8 workers,
-- claims of 10, interleaved runs: 1,188 and 1,312 steps/s as two
-- transactions, 1,444 and 1,528 as one; backend CPU 1,218/1,111 → 1,051/998
-- µs per step (WAL waits were ~0.9 of 3.4 active backends).
CREATE OR REPLACE FUNCTION edgeflow.complete_tasks_and_claim(p_results jsonb, p_key_id uuid, p_admin boolean, p_worker text, p_pool text, p_handlers jsonb, p_capacity integer, p_heartbeat_seconds integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_results jsonb := '[]'::jsonb;
  v_due boolean;
  v_next jsonb;
  v_sync text := pg_catalog.current_setting('synchronous_commit');
begin
  if pg_catalog.jsonb_array_length(p_results) > 0 then
    v_results := edgeflow.complete_tasks(p_results);
  end if;
  v_due := edgeflow.subflows_due();
  v_next := edgeflow.worker_heartbeat(p_key_id, p_admin, p_worker, p_pool, p_handlers,
                                      p_capacity, '[]'::jsonb, p_heartbeat_seconds);
  perform pg_catalog.set_config('synchronous_commit', v_sync, true);
  return pg_catalog.jsonb_build_object('results', v_results, 'due', v_due, 'next', v_next);
end
$function$;
