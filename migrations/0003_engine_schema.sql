-- The engine's tables. Runs, steps and tasks hold state; pgmq holds the queue
-- of tasks ready to be claimed (one pgmq queue per pool, queue and handler, so
-- a worker reads only what it can run, through pgmq's own `read`).

create schema if not exists edgeflow;

-- No SET clause and stable (to_char is): so the planner inlines it into the
-- calling query instead of planning a function call per row.
create function edgeflow.iso(ts timestamptz)
returns text language sql stable parallel safe as $$
  select pg_catalog.to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$$;

create table edgeflow.flows (
  name text primary key,
  created_at timestamptz not null default now()
);

create table edgeflow.flow_versions (
  id uuid primary key default gen_random_uuid(),
  flow_name text not null references edgeflow.flows (name),
  version integer not null,
  version_group text not null,
  hash text not null,
  idempotency_key text,
  definition jsonb not null,
  settings jsonb not null,
  archived boolean not null default false,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  unique (flow_name, version)
);
create index flow_versions_group on edgeflow.flow_versions (version_group) where not archived;

create table edgeflow.flow_steps (
  flow_version_id uuid not null references edgeflow.flow_versions (id),
  slug text not null,
  step_index integer not null,
  handler text not null,
  depends_on text[] not null default '{}',
  dependents text[] not null default '{}',
  map_from text,
  max_attempts integer not null,
  base_delay double precision not null,
  timeout integer not null,
  start_delay integer not null default 0,
  args jsonb,
  deployment text,
  primary key (flow_version_id, slug)
);

create table edgeflow.pools (
  name text primary key,
  type text not null default 'pull' check (type in ('pull', 'push')),
  concurrency_limit integer check (concurrency_limit >= 0),
  paused boolean not null default false,
  url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table edgeflow.pool_queues (
  pool text not null references edgeflow.pools (name),
  name text not null,
  priority integer not null default 0,
  concurrency_limit integer check (concurrency_limit >= 0),
  paused boolean not null default false,
  primary key (pool, name)
);

insert into edgeflow.pools (name) values ('default');
insert into edgeflow.pool_queues (pool, name) values ('default', 'default');

-- Which pgmq queue holds the tasks of a handler in a pool's queue.
-- `vt_seconds` is the lease a read takes first; claims fix it per step when
-- a step's timeout differs, so the common case costs no extra statement.
create table edgeflow.handler_queues (
  pool text not null,
  queue text not null,
  handler text not null,
  queue_name text not null unique,
  vt_seconds integer not null,
  primary key (pool, queue, handler),
  foreign key (pool, queue) references edgeflow.pool_queues (pool, name)
);

create table edgeflow.deployments (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  flow_name text not null references edgeflow.flows (name),
  version_pin integer,
  pool text not null references edgeflow.pools (name),
  queue text not null default 'default',
  description text,
  parameters jsonb not null default '{}',
  tags text[] not null default '{}',
  concurrency_limit integer check (concurrency_limit >= 0),
  collision_strategy text not null default 'enqueue'
    check (collision_strategy in ('enqueue', 'cancel_new')),
  paused boolean not null default false,
  job_variables jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table edgeflow.runs (
  id uuid primary key default gen_random_uuid(),
  flow_version_id uuid not null references edgeflow.flow_versions (id),
  flow_name text not null,
  version integer not null,
  deployment_id uuid references edgeflow.deployments (id),
  pool text not null,
  queue text not null,
  parameters jsonb not null default '{}',
  tags text[] not null default '{}',
  status text not null check (status in ('SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED',
                                         'CANCELLING', 'CANCELLED', 'CRASHED')),
  remaining_steps integer not null,
  version_lock boolean not null default true,
  heartbeat boolean not null default true,
  output jsonb,
  error jsonb,
  idempotency_scope text,
  idempotency_key text,
  request_hash text,
  parent_task_id uuid,
  scheduled_time timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz
);
create unique index runs_idempotency on edgeflow.runs (idempotency_scope, idempotency_key)
  where idempotency_key is not null;
-- Newest first with a (created_at, id) cursor, overall and per filter.
create index runs_newest on edgeflow.runs (created_at desc, id desc);
create index runs_status_newest on edgeflow.runs (status, created_at desc, id desc);
create index runs_flow_newest on edgeflow.runs (flow_name, created_at desc, id desc);
create index runs_deployment_newest on edgeflow.runs (deployment_id, created_at desc, id desc);
create index runs_parent on edgeflow.runs (parent_task_id) where parent_task_id is not null;

create table edgeflow.step_states (
  run_id uuid not null references edgeflow.runs (id) on delete cascade,
  slug text not null,
  step_index integer not null,
  status text not null check (status in ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED',
                                         'CANCELLED')),
  remaining_deps integer not null,
  remaining_tasks integer,
  total_tasks integer,
  output jsonb,
  error jsonb,
  queued_at timestamptz,
  started_at timestamptz,
  ended_at timestamptz,
  primary key (run_id, slug)
);

create table edgeflow.tasks (
  id uuid primary key,
  run_id uuid not null references edgeflow.runs (id) on delete cascade,
  slug text not null,
  task_index integer not null,
  item jsonb,
  status text not null check (status in ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  attempts integer not null default 0,
  max_attempts integer not null,
  queue_name text not null,
  msg_id bigint,
  lease uuid,
  lease_expires_at timestamptz,
  worker text,
  output jsonb,
  error jsonb,
  available_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz,
  unique (run_id, slug, task_index)
);
-- The zombie sweep reads only expired leases: its cost follows their number.
create index tasks_lease_expiry on edgeflow.tasks (lease_expires_at) where status = 'RUNNING';

create table edgeflow.workers (
  name text primary key,
  pool text not null,
  handlers text[],
  capacity integer not null default 0,
  heartbeat_seconds integer not null,
  first_heartbeat_at timestamptz not null default now(),
  last_heartbeat_at timestamptz not null default now()
);
