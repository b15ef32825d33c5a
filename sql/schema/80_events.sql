-- The event log of runs, steps and tasks.

create table edgeflow.events (
  id bigint generated always as identity not null,
  run_id uuid not null,
  kind text not null,
  step text,
  task uuid,
  attempt integer,
  from_status text,
  to_status text not null,
  at timestamp with time zone default clock_timestamp() not null,
  error jsonb,
  constraint events_pkey PRIMARY KEY (id),
  constraint events_kind_check CHECK ((kind = ANY (ARRAY['run'::text, 'step'::text, 'task'::text])))
);
-- A run's events after a given id: the only read (polls, SSE resumption).
CREATE INDEX events_run ON edgeflow.events USING btree (run_id, id);
