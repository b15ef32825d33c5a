-- results_and_claims_running_rooms: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.results_and_claims.sql
-- The results of several requests and their workers' next claims in one call
-- and one transaction: what a server process sends when result requests
-- (`POST /heartbeat/tasks/complete` and `…/fail`, with or without `next`)
-- arrive while its earlier ones are still in the database
-- (shared/app/result_groups.ts). Each entry is accepted or refused exactly as
-- in its own call: the completions as edgeflow.complete_tasks takes them, then
-- the failures as edgeflow.fail_tasks does. A task named by two requests is
-- answered as if the second came after the first (stale_lease).
--
-- Then the claims, one answer each in the order given: a worker whose name
-- another key owns is refused ({"error": "worker_name_taken"}) as
-- edgeflow.worker_heartbeat refuses it; every other worker's row is refreshed
-- as its heartbeat would (edgeflow._beat_row), and the workers of one pool
-- and one handler list share one edgeflow.claim_tasks call for all their room,
-- its tasks handed out in the order given (each task's `worker` is the one it
-- went to). Returns {completed, failed, due, next}, `due` as
-- edgeflow.subflows_due() after the results. An exception anywhere aborts all
-- of it; the server then sends each request alone.
--
-- The commit waits for the WAL flush as a result's must: the claim turns
-- synchronous_commit off for its transaction, and it is put back after.
--
-- Figures that decided it (1,500 chains of 3, 8 workers, 10 tasks each per
-- call). tests/bench/peers/diagnose.ts over HTTP, one round each: 10 tasks
-- per call ran 3,010 steps/s at 471 µs of backend CPU per step, 40 per call
-- 5,272 at 293 µs. On 8 connections through SQL
-- (tests/bench/peers/call_sizes.ts, 3 rounds interleaved, medians of two
-- runs): claims of 10 and completions of 10, 2,775 and 3,574 steps/s; four
-- claims of 10 and one completion of 40, 3,933 and 4,346; one claim of 40
-- and completions of 10, 3,276 and 4,104; one claim of 40 and one completion
-- of 40, 4,593 and 6,012. Both halves gain from being one call, so the claims
-- are shared too, not only the transaction. A first version shared only the
-- completions and ran each worker's claim: in the peer loop over HTTP, one
-- call at a time ran 2,261 steps/s against 2,582 ungrouped, and two at a
-- time no faster than ungrouped.
CREATE OR REPLACE FUNCTION edgeflow.results_and_claims(p_completions jsonb, p_failures jsonb, p_claims jsonb)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sync text := pg_catalog.current_setting('synchronous_commit');
  v_now timestamptz := edgeflow.now();
  v_completed jsonb := '[]'::jsonb;
  v_failed jsonb := '[]'::jsonb;
  v_due boolean;
  v_n integer;
  v_next json[];
  v_owned boolean[];
  c jsonb;
  g record;
  v_docs json;
  v_docs_by json[];
  v_total integer;
begin
  if pg_catalog.jsonb_typeof(p_claims) is distinct from 'array' then
    raise exception 'results_and_claims expects a JSON array of claims' using errcode = '22023';
  end if;
  if pg_catalog.jsonb_array_length(p_completions) > 0 then
    v_completed := edgeflow.complete_tasks(p_completions);
  end if;
  if pg_catalog.jsonb_array_length(p_failures) > 0 then
    v_failed := edgeflow.fail_tasks(p_failures);
  end if;
  v_due := edgeflow.subflows_due();

  v_n := pg_catalog.jsonb_array_length(p_claims);
  v_next := pg_catalog.array_fill(null::json, array[v_n]);
  v_owned := pg_catalog.array_fill(false, array[v_n]);
  for i in 1 .. v_n loop
    c := p_claims -> (i - 1);
    if edgeflow._worker_owned((c ->> 'key_id')::uuid, (c ->> 'admin')::boolean, c ->> 'worker') then
      v_owned[i] := true;
      perform edgeflow._beat_row(c ->> 'worker', c ->> 'pool',
                                 case when pg_catalog.jsonb_typeof(c -> 'handlers') = 'array'
                                      then array(select pg_catalog.jsonb_array_elements_text(c -> 'handlers')) end,
                                 greatest(coalesce((c ->> 'capacity')::integer, 0), 0),
                                 (c ->> 'heartbeat_seconds')::integer, v_now);
    else
      v_next[i] := pg_catalog.json_build_object('error', 'worker_name_taken');
    end if;
  end loop;

  -- The claims of one pool and handler list together; `upto` is each one's
  -- last place in the group's tasks (the rooms summed in order).
  for g in
    select y.pool, y.handlers, array_agg(y.ord order by y.ord) as claims,
           array_agg(y.worker order by y.ord) as workers,
           array_agg(y.upto order by y.ord) as upto
      from (select x.ord::integer as ord, x.value ->> 'pool' as pool, x.value ->> 'worker' as worker,
                   case when pg_catalog.jsonb_typeof(x.value -> 'handlers') = 'array'
                        then x.value -> 'handlers' end as handlers,
                   sum(greatest(coalesce((x.value ->> 'capacity')::integer, 0), 0))
                     over (partition by x.value ->> 'pool',
                                        case when pg_catalog.jsonb_typeof(x.value -> 'handlers') = 'array'
                                             then x.value -> 'handlers' end
                           order by x.ord) as upto
              from pg_catalog.jsonb_array_elements(p_claims) with ordinality as x(value, ord)
             where v_owned[x.ord]) y
     group by y.pool, y.handlers
  loop
    v_total := g.upto[cardinality(g.upto)];
    v_docs := case when v_total > 0
                   then edgeflow.claim_tasks(g.pool, g.handlers, v_total, g.workers[1])
                   else '[]'::json end;
    -- The tasks in order, the first room's worth to the first worker, and so on.
    with doc as (
      select d.value, d.ord,
             (select min(k) from generate_subscripts(g.upto, 1) as k where g.upto[k] >= d.ord) as k
        from pg_catalog.json_array_elements(v_docs) with ordinality as d(value, ord)
    ), handed as (
      update edgeflow.tasks t set worker = g.workers[doc.k]
        from doc
       where doc.k > 1 and t.id = (doc.value ->> 'task')::uuid
    )
    select array_agg(coalesce(p.tasks, '[]'::json) order by k.k) into v_docs_by
      from generate_subscripts(g.upto, 1) as k(k)
      left join (select doc.k, pg_catalog.json_agg(doc.value order by doc.ord) as tasks
                   from doc group by doc.k) p on p.k = k.k;
    for j in 1 .. cardinality(g.claims) loop
      v_next[g.claims[j]] := pg_catalog.json_build_object('lost', '[]'::json, 'cancel', '[]'::json,
                                                          'extended', 0, 'tasks', v_docs_by[j]);
    end loop;
  end loop;
  perform pg_catalog.set_config('synchronous_commit', v_sync, true);
  return pg_catalog.json_build_object('completed', v_completed, 'failed', v_failed, 'due', v_due,
                                      'next', pg_catalog.array_to_json(v_next));
end
$function$;
