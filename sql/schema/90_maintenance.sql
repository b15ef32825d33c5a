-- State of the maintenance pass (the sweep) and the engine's clock.

-- Where the round-robin check of idle runs stopped: (created_at, id).
create table edgeflow.sweep_cursor (
  id boolean default true not null,
  created_at timestamp with time zone,
  run_id uuid,
  constraint sweep_cursor_pkey PRIMARY KEY (id),
  constraint sweep_cursor_id_check CHECK (id)
);

-- The engine's clock: edgeflow.now() is the transaction's now() plus `shift`.
-- One row at most; no row means no shift. Only tests move it
-- (edgeflow.advance_clock), so leases, retries, delays, schedules and sweeps can
-- be tested without sleeping.
create table edgeflow.clock (
  id boolean default true not null,
  shift interval default '00:00:00'::interval not null,
  constraint clock_pkey PRIMARY KEY (id),
  constraint clock_id_check CHECK (id)
);

-- Counters the maintenance pass keeps for /metrics (Prometheus counters:
-- they only grow): `lease_expiries` is every expired lease the sweep handled.
create table edgeflow.maintenance_counters (
  name text not null,
  value bigint default 0 not null,
  constraint maintenance_counters_pkey PRIMARY KEY (name)
);
