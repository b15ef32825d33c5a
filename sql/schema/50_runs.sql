-- Runs, the state of each step of a run, and the tasks (attempts) of a step.

-- fillfactor 70: a run is updated four to five times in its life (started,
-- a step count-down per step, ended), and a count-down changes no indexed
-- column, so with room on its page it is a HOT update instead of a new
-- entry in each of the table's 13 indexes. Figure that decided it
-- (tests/bench/events_cpu.ts, batches of 50, 1,000 runs of 3-step chains,
-- backend CPU per step, 3 interleaved rounds, migration 0258): 293-303 µs at
-- fillfactor 100, 280-290 µs at 70; lower in every round.
create table edgeflow.runs (
  id uuid default gen_random_uuid() not null,
  flow_version_id uuid not null,
  flow_name text not null,
  version integer not null,
  deployment_id uuid,
  pool text not null,
  queue text not null,
  parameters jsonb default '{}'::jsonb not null,
  tags text[] default '{}'::text[] not null,
  status text not null,
  remaining_steps integer not null,
  version_lock boolean default true not null,
  heartbeat boolean default true not null,
  output jsonb,
  error jsonb,
  idempotency_scope text,
  idempotency_key text,
  request_hash text,
  parent_task_id uuid,
  scheduled_time timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  started_at timestamp with time zone,
  ended_at timestamp with time zone,
  awaiting_slot text,
  resurrections integer default 0 not null,
  lazarus_due boolean default false not null,
  retries integer default 0 not null,
  trace jsonb,
  late_at timestamp with time zone,
  constraint runs_pkey PRIMARY KEY (id),
  constraint runs_status_check CHECK ((status = ANY (ARRAY['SCHEDULED'::text, 'PENDING'::text, 'RUNNING'::text, 'COMPLETED'::text, 'FAILED'::text, 'CANCELLING'::text, 'CANCELLED'::text, 'CRASHED'::text]))),
  constraint runs_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id),
  constraint runs_flow_version_id_fkey FOREIGN KEY (flow_version_id) REFERENCES edgeflow.flow_versions(id)
) with (fillfactor=70);
-- Waiting runs start in creation order.
CREATE INDEX runs_awaiting ON edgeflow.runs USING btree (deployment_id, created_at, id) WHERE (awaiting_slot IS NOT NULL);
CREATE INDEX runs_deployment_newest ON edgeflow.runs USING btree (deployment_id, created_at DESC, id DESC);
CREATE INDEX runs_flow_newest ON edgeflow.runs USING btree (flow_name, created_at DESC, id DESC);
CREATE UNIQUE INDEX runs_idempotency ON edgeflow.runs USING btree (idempotency_scope, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE INDEX runs_lazarus_due ON edgeflow.runs USING btree (ended_at) WHERE lazarus_due;
-- Newest first with a (created_at, id) cursor, overall and per filter.
CREATE INDEX runs_newest ON edgeflow.runs USING btree (created_at DESC, id DESC);
-- Retention: a deployment's finished runs, oldest end first (edgeflow.prune_runs).
CREATE INDEX runs_prunable ON edgeflow.runs USING btree (deployment_id, ended_at) WHERE ((deployment_id IS NOT NULL) AND (status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])));
-- Retention of ad hoc runs: "deployment_id is null" gives no order on the
-- index above, so those needed a sort of all of them (53 s for 877,000).
CREATE INDEX runs_prunable_adhoc ON edgeflow.runs USING btree (ended_at) WHERE ((deployment_id IS NULL) AND (status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])));
-- Runs not started and not flagged late yet, by the time they should have
-- started: edgeflow.mark_late_runs reads only these.
CREATE INDEX runs_not_started ON edgeflow.runs USING btree (COALESCE(scheduled_time, created_at)) WHERE ((status = ANY (ARRAY['SCHEDULED'::text, 'PENDING'::text])) AND (late_at IS NULL));
CREATE INDEX runs_parent ON edgeflow.runs USING btree (parent_task_id) WHERE (parent_task_id IS NOT NULL);
CREATE INDEX runs_status_newest ON edgeflow.runs USING btree (status, created_at DESC, id DESC);

create table edgeflow.step_states (
  run_id uuid not null,
  slug text not null,
  step_index integer not null,
  status text not null,
  remaining_deps integer not null,
  remaining_tasks integer,
  total_tasks integer,
  output jsonb,
  error jsonb,
  queued_at timestamp with time zone,
  started_at timestamp with time zone,
  ended_at timestamp with time zone,
  holds_key_slots boolean default false not null,
  run_created_at timestamp with time zone,
  constraint step_states_pkey PRIMARY KEY (run_id, slug),
  constraint step_states_status_check CHECK ((status = ANY (ARRAY['PENDING'::text, 'QUEUED'::text, 'RUNNING'::text, 'COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'WAITING'::text]))),
  constraint step_states_run_id_fkey FOREIGN KEY (run_id) REFERENCES edgeflow.runs(id) ON DELETE CASCADE
);

create table edgeflow.tasks (
  id uuid not null,
  run_id uuid not null,
  slug text not null,
  task_index integer not null,
  item jsonb,
  status text not null,
  attempts integer default 0 not null,
  max_attempts integer not null,
  queue_name text not null,
  msg_id bigint,
  lease uuid,
  lease_expires_at timestamp with time zone,
  worker text,
  output jsonb,
  error jsonb,
  available_at timestamp with time zone default now() not null,
  created_at timestamp with time zone default now() not null,
  started_at timestamp with time zone,
  ended_at timestamp with time zone,
  holds_slots boolean default false not null,
  subflow_run_id uuid,
  waited jsonb,
  run_created_at timestamp with time zone,
  constraint tasks_pkey PRIMARY KEY (id),
  constraint tasks_run_id_slug_task_index_key UNIQUE (run_id, slug, task_index),
  constraint tasks_status_check CHECK ((status = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text, 'COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'WAITING'::text]))),
  constraint tasks_run_id_fkey FOREIGN KEY (run_id) REFERENCES edgeflow.runs(id) ON DELETE CASCADE
);
-- The zombie sweep reads only expired leases: its cost follows their number.
CREATE INDEX tasks_lease_expiry ON edgeflow.tasks USING btree (lease_expires_at) WHERE (status = 'RUNNING'::text);
-- A run's live work, found without reading its finished tasks (a map step
-- may have thousands): the idle check and cancellation read this.
CREATE INDEX tasks_live ON edgeflow.tasks USING btree (run_id) WHERE (status = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text]));

-- Log lines shipped by workers (POST /heartbeat/tasks/:task/logs). Append
-- only and read by run, no foreign key. Partitioned like edgeflow.events by
-- the creation day (UTC) of the line's run, so retention drops a whole day
-- with the events once none of its runs is left (edgeflow.maintain_partitions)
-- instead of deleting lines; the DEFAULT partition catches a day that has
-- none yet.
create table edgeflow.task_logs (
  id bigint generated always as identity not null,
  at timestamp with time zone not null,
  run_id uuid not null,
  step text not null,
  task_id uuid not null,
  attempt integer not null,
  level text not null,
  message text not null,
  fields jsonb,
  run_created_at timestamp with time zone not null,
  constraint task_logs_pkey PRIMARY KEY (id, run_created_at),
  constraint task_logs_level_check CHECK ((level = ANY (ARRAY['debug'::text, 'info'::text, 'warn'::text, 'error'::text])))
) partition by range (run_created_at);
-- A run's lines after a given id: the only read (JSON pages, SSE resumption).
CREATE INDEX task_logs_run ON edgeflow.task_logs USING btree (run_id, id);

create table edgeflow.task_logs_default partition of edgeflow.task_logs default;

-- What each task has logged so far: the per-task bounds (lines, bytes, a
-- token bucket for the rate) and the lines dropped over them, which readers
-- see as `dropped` instead of losing them silently.
create table edgeflow.task_log_stats (
  task_id uuid not null,
  run_id uuid not null,
  lines integer default 0 not null,
  bytes bigint default 0 not null,
  dropped integer default 0 not null,
  tokens double precision not null,
  tokens_at timestamp with time zone not null,
  constraint task_log_stats_pkey PRIMARY KEY (task_id),
  constraint task_log_stats_task_id_fkey FOREIGN KEY (task_id) REFERENCES edgeflow.tasks(id) ON DELETE CASCADE
);
CREATE INDEX task_log_stats_run ON edgeflow.task_log_stats USING btree (run_id);

-- Steps with per-key `concurrency` (issue 16) waiting for a slot of their
-- key (the first of their keys in limit_key), in line by created_at.
create table edgeflow.step_key_queue (
  run_id uuid not null,
  slug text not null,
  limit_key text not null,
  created_at timestamp with time zone not null,
  constraint step_key_queue_pkey PRIMARY KEY (run_id, slug),
  constraint step_key_queue_run_id_slug_fkey FOREIGN KEY (run_id, slug) REFERENCES edgeflow.step_states(run_id, slug) ON DELETE CASCADE
);
CREATE INDEX step_key_queue_key ON edgeflow.step_key_queue USING btree (limit_key, created_at);
