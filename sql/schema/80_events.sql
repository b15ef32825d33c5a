-- The event log of runs, steps and tasks.

-- Partitioned by the creation day (UTC) of the run an event belongs to, so
-- retention drops a whole day once none of its runs is left (one `drop
-- table`, not a delete of 18 rows per run). Day partitions `events_pYYYYMMDD`
-- are data, made and dropped by the maintenance pass
-- (edgeflow.ensure_partitions / edgeflow.drop_partitions); the DEFAULT
-- partition catches a day that has none yet, and the next pass moves its rows
-- into their day.
-- `at` is the engine's clock (edgeflow.now()) of the transition, as the
-- rows' own started_at/ended_at are, so a test that moves the clock sees it in
-- the events. It has no default: clock_timestamp() bypassed the test clock,
-- and edgeflow.now() cannot be one (the tree makes tables before functions);
-- every writer names it. Readers order by id, never by `at` (one
-- transaction's events share one time).
-- One row can hold two events (migration 0277): a task row with `step_too`
-- also records its step making the same move (QUEUED → RUNNING at a claim,
-- RUNNING → COMPLETED at a completion), written so by the claim and
-- completion paths instead of a step row of its own. The row's id is the
-- task's event and id + 1 the step's: ids are handed out 2 apart, so id + 1
-- is never another row's. Read events through edgeflow.event_log (or expand
-- them as edgeflow.run_events does), not from this table. Figure that decided
-- it (tests/bench/events_cpu.ts, backend CPU per step, batches of 50, 3,000
-- runs, variants interleaved in one database): with triggers off 155.6 µs,
-- a row per change 178.9 (+15 %: ~4 µs a row, 40 % of it the index entry),
-- task rows taken out altogether 172.2 (+10.7 %); 5.3 rows a step become 3.3.
create table edgeflow.events (
  id bigint generated always as identity (increment by 2) not null,
  run_id uuid not null,
  kind text not null,
  step text,
  task uuid,
  attempt integer,
  from_status text,
  to_status text not null,
  at timestamp with time zone not null,
  error jsonb,
  run_created_at timestamp with time zone not null,
  step_too boolean,
  constraint events_kind_check CHECK ((kind = ANY (ARRAY['run'::text, 'step'::text, 'task'::text])))
) partition by range (run_created_at);
-- A run's events after a given id: the only read (polls, SSE resumption,
-- the run page), and the table's only index. There is no primary key: ids
-- come from the identity, and nothing reads an event by its id alone; the
-- key (id, run_created_at) was a second index entry per event, 17,000 of the
-- 80,000 instructions an event cost (callgrind, chains in claims of 50).
CREATE INDEX events_run ON edgeflow.events USING btree (run_id, id);

create table edgeflow.events_default partition of edgeflow.events default;
