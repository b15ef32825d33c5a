-- trace_context_inlined: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.task_span_id.sql
-- The span id of a task attempt in its run's trace (W3C: 16 hex digits),
-- derived rather than stored: the task document (edgeflow.trace_context)
-- and the span exporter (shared/otel/tracer.ts reads it here) name the same
-- span without a column or a write on the claim. The last 14 hex digits of
-- the task's id (random in a v4 uuid: gen_random_uuid) and the attempt in two:
-- 56 random bits per task, distinct for its first 256 attempts. Chosen over
-- md5(task || attempt): 1.4 µs against 3.8 µs a task document (100,000
-- documents, loaded 2-core machine). No SET clause, immutable: inlined.
CREATE OR REPLACE FUNCTION edgeflow.task_span_id(p_task_id uuid, p_attempt integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select pg_catalog.substr(pg_catalog.replace(p_task_id::text, '-', ''), 19, 14)
         || pg_catalog.lpad(pg_catalog.to_hex(p_attempt % 256), 2, '0');
$function$;

-- from sql/functions/edgeflow.trace_context.sql
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
