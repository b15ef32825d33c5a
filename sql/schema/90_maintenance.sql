-- State of the maintenance pass (the sweep).

-- Where the round-robin check of idle runs stopped: (created_at, id).
create table edgeflow.sweep_cursor (
  id boolean default true not null,
  created_at timestamp with time zone,
  run_id uuid,
  constraint sweep_cursor_pkey PRIMARY KEY (id),
  constraint sweep_cursor_id_check CHECK (id)
);
