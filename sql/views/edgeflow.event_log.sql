-- The event log as events, one row per change: edgeflow.events with each
-- `step_too` row expanded into its task's event (id) and its step's (id + 1,
-- kind 'step', no task, attempt or error). Order by id. `row_id` is the id
-- of the row an event comes from: a read of one run's events that must stay
-- on the index filters `row_id >= after and id > after` and orders by
-- `row_id, id` (the index's order, then the row's two halves), as
-- edgeflow.run_events and the dashboard do.
create or replace view edgeflow.event_log as
 SELECT x.id,
    e.run_id,
    x.kind,
    e.step,
    x.task,
    x.attempt,
    e.from_status,
    e.to_status,
    e.at,
    x.error,
    e.run_created_at,
    e.id AS row_id
   FROM edgeflow.events e
     CROSS JOIN LATERAL ( VALUES (1,e.id,e.kind,e.task,e.attempt,e.error), (2,e.id + 1,'step'::text,NULL::uuid,NULL::integer,NULL::jsonb)) x(n, id, kind, task, attempt, error)
  WHERE x.n = 1 OR e.step_too;
