-- The task documents (ClaimedTask in shared/engine/tasks.ts) of `p_ids`, as
-- one JSON array in the order given: the one place that document is built
-- (_task_json is this for one id). Set-based, so a claim of 50 tasks reads
-- runs, steps and dependency outputs in one pass instead of 50 (claim batch50:
-- see claim_tasks for the figures).
-- A generic plan, forced: with the array as a parameter the planner's custom
-- plan (unnest of the actual array: 1 row) always looks cheaper than the
-- generic one (unnest estimated at 10 rows), so the plan cache never settled
-- on the generic plan and planned this statement again on every call. Figure
-- that decided it (backend user CPU of 1,000 top-level `_task_json(id)` calls,
-- one session, modes interleaved, 2-core machine at load average 6-15): 1.5-1.9
-- ms per document with plan_cache_mode = auto, 0.23-1.0 ms forced generic.
-- The task is read in a lateral subquery kept apart by `offset 0`, so the plan
-- probes tasks_pkey once per id whatever the table's size. Joined directly,
-- the generic plan (unnest estimated at 10 rows) was a hash join over a
-- sequential scan of every task: 1,000 top-level one-id calls, one session,
-- interleaved 4 times, 932 tasks: 240-316 µs per call that way, 61-78 µs
-- this way (the old cost grows with the table; 50 ids: 1.5-3.8 against
-- 2.3-4.3 ms, load average ~6).
-- `enable_bitmapscan off`: a document's `deps` are one to a few step_states
-- rows, and the generic plan read them by a bitmap scan set up anew for every
-- document. Figure that decided it (tests/bench/task_doc_cpu.ts: instructions
-- under callgrind for one call of 50 documents of a chain's second step,
-- variants in one database, deterministic to 0.1 %): 12.71 M → 11.86 M
-- (−7 %) with '{}' parameters, 29.1 M → 28.1 M with 8 KB of payload per document. Measured and
-- not taken (same harness): the document built as text and parsed once,
-- 9.4 M with empty payloads but 56.8 M with 8 KB (the payload printed and
-- parsed again); `deps` through a join of unnest(depends_on), 13.7 M; the
-- `||` of the optional keys and the `order by`, within 1 %. Of a document's
-- ~240,000 instructions, jsonb_build_object takes ~90,000, part of it looking
-- up the type of each argument (keys included) on every call; the deps
-- subquery ~45,000, the trace context ~30,000.
-- The document's first level is to_jsonb of a row (migration 0281), whose
-- keys come from its column names: jsonb_build_object looked up the type of
-- its 24 arguments on every call, keys included, and a row's columns are
-- looked up once each. Figure that decided it (same harness): 11.86 M →
-- 11.04 M (−7 %) with '{}' parameters, 26.9 M → 26.6 M with 8 KB of payload
-- a document; building `trace` as a row too gave another 1.3 %, not taken
-- (trace_context stays the one place the trace context is built).
-- `json`, not `jsonb` (migration 0283): the documents go to the client as
-- text, and json is built as text, where jsonb built a tree, its keys sorted,
-- and printed it at the end. Embedded jsonb values (the run's parameters, the
-- deps' outputs, args, the trace context) are printed once, into the text,
-- as they were when the whole document was printed. Figure that decided it
-- (tests/bench/task_doc_cpu.ts, same harness): 11.05 M → 6.57 M (−41 %) per
-- 50 documents with '{}' payloads, 15.54 M → 11.04 M (−29 %) with 1 KB in
-- the parameters and the first step's output, 41.47 M → 42.69 M (+3 %) with
-- 8 KB. In the engine (tests/bench/events_cpu.ts --callgrind, 450 − 150 runs,
-- batches of 50, 2 rounds): 1.455 M → 1.373 M instructions per step (−5.6 %),
-- 1.350 M → 1.255 M with the event log off. Keys keep the order built here
-- (jsonb sorted them); readers parse them into objects. claim_tasks and the
-- calls that return its documents (heartbeat, worker_heartbeat, _claim_next,
-- complete_tasks_and_claim, fail_tasks_and_claim) return json too: a cast
-- back to jsonb would parse every document again. A document with `waited`
-- is built as jsonb and cast (rare: a resumed wait).

CREATE OR REPLACE FUNCTION edgeflow._tasks_json(p_ids uuid[])
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_bitmapscan TO 'off'
AS $function$
begin
  return (select coalesce(json_agg(
      case when t.waited is null then to_json(doc)
           -- The waits a suspended handler has passed (edgeflow.suspend_task), in order.
           else (to_jsonb(doc) || jsonb_build_object('waited', t.waited))::json end
      order by i.ord), '[]')
    from unnest(p_ids) with ordinality as i(id, ord)
    cross join lateral (
      select t.id, t.lease, t.run_id, t.slug, t.attempts, t.max_attempts, t.task_index,
             t.lease_expires_at, t.item, t.waited
        from edgeflow.tasks t where t.id = i.id offset 0) t
    join edgeflow.runs r on r.id = t.run_id
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = t.slug
    cross join lateral (
      select coalesce(json_object_agg(d.slug, d.output), '{}') as deps
        from edgeflow.step_states d
       where d.run_id = t.run_id and d.slug = any(fs.depends_on)) dp
    -- The document's keys are these columns' names (to_json of the row).
    cross join lateral (
      select t.id as task, t.lease as lease, t.run_id as run_id, r.flow_name as flow,
             t.slug as step, fs.handler as handler, t.attempts as attempt,
             t.max_attempts as max_attempts, t.task_index as task_index,
             edgeflow.iso(t.lease_expires_at) as lease_expires_at,
             edgeflow.trace_context(r.id, r.trace, t.id, t.attempts) as trace,
             case when fs.map_from is null
                  then json_build_object('run', r.parameters, 'deps', dp.deps, 'args', fs.args)
                  else json_build_object('run', r.parameters, 'deps', dp.deps, 'args', fs.args,
                                         'item', t.item) end as input) doc);
end
$function$;
