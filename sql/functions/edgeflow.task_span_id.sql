-- The span id of a task attempt in its run's trace (W3C: 16 hex digits),
-- derived rather than stored: the task document (edgeflow.trace_context)
-- and the span exporter (shared/otel/spans.ts reads it here) name the same
-- span without a column or a write on the claim. No SET clause, immutable:
-- the planner inlines it.
CREATE OR REPLACE FUNCTION edgeflow.task_span_id(p_task_id uuid, p_attempt integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select pg_catalog.substr(pg_catalog.md5(p_task_id::text || '/' || p_attempt::text), 1, 16);
$function$;
