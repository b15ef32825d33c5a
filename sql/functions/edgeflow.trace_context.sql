-- The W3C trace context a task attempt carries to its worker (the task
-- document's `trace`, ClaimedTask in shared/engine/tasks.ts): `traceparent`
-- names the run's trace and the attempt's own span (edgeflow.task_span_id),
-- so a span the handler starts from it is a child of the attempt; the
-- trigger's `tracestate` travels unchanged. `p_trace` is runs.trace
-- ({trace_id, span_id, parent_id, flags, tracestate}, written by the trigger
-- from its traceparent header, or fresh); a run started without one (a
-- schedule, an event, a subflow) has its own id as trace id: a fresh trace,
-- nothing stored. No SET clause, immutable: inlined into _tasks_json.
CREATE OR REPLACE FUNCTION edgeflow.trace_context(p_run_id uuid, p_trace jsonb, p_task_id uuid, p_attempt integer)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select pg_catalog.jsonb_build_object('traceparent',
           '00-' || coalesce(p_trace ->> 'trace_id', pg_catalog.replace(p_run_id::text, '-', ''))
           || '-' || edgeflow.task_span_id(p_task_id, p_attempt)
           || '-' || coalesce(p_trace ->> 'flags', '01'))
         || case when p_trace ? 'tracestate'
                 then pg_catalog.jsonb_build_object('tracestate', p_trace -> 'tracestate')
                 else '{}'::jsonb end;
$function$;
