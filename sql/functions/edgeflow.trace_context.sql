-- The W3C trace context a task attempt carries to its worker (the task
-- document's `trace`, ClaimedTask in shared/api/claimed_task.ts):
-- `traceparent` names the run's trace and the attempt's own span
-- (edgeflow.task_span_id), so a span the handler starts from it is a child of
-- the attempt; the trigger's `tracestate` travels unchanged (null: none).
-- `p_trace` is runs.trace ({trace_id, span_id, parent_id, flags, tracestate},
-- written by the trigger from its traceparent header, or fresh); a run
-- started without one (a schedule, an event, a subflow started in SQL) has
-- its own id as trace id: a fresh trace, nothing stored.
--
-- No SET clause and STABLE (as jsonb_build_object is), so the planner inlines
-- it into _tasks_json. Declared IMMUTABLE it was not inlined: 89 µs a task
-- document against 48 µs without the trace (50-task documents, loaded 2-core
-- machine). One jsonb_build_object, no `||` of two documents for tracestate.
CREATE OR REPLACE FUNCTION edgeflow.trace_context(p_run_id uuid, p_trace jsonb, p_task_id uuid, p_attempt integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
  select pg_catalog.jsonb_build_object(
           'traceparent',
           '00-' || coalesce(p_trace ->> 'trace_id', pg_catalog.replace(p_run_id::text, '-', ''))
           || '-' || edgeflow.task_span_id(p_task_id, p_attempt)
           || '-' || coalesce(p_trace ->> 'flags', '01'),
           'tracestate', p_trace ->> 'tracestate');
$function$;
