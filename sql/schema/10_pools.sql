-- Pools, their queues, the pgmq queue of each handler, and the workers that poll them.

create table edgeflow.pools (
  name text not null,
  type text default 'pull'::text not null,
  concurrency_limit integer,
  paused boolean default false not null,
  url text,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  description text,
  constraint pools_pkey PRIMARY KEY (name),
  constraint pools_concurrency_limit_check CHECK ((concurrency_limit >= 0)),
  constraint pools_type_check CHECK ((type = ANY (ARRAY['pull'::text, 'push'::text])))
);

create table edgeflow.pool_queues (
  pool text not null,
  name text not null,
  priority integer default 0 not null,
  concurrency_limit integer,
  paused boolean default false not null,
  constraint pool_queues_pkey PRIMARY KEY (pool, name),
  constraint pool_queues_concurrency_limit_check CHECK ((concurrency_limit >= 0)),
  constraint pool_queues_pool_fkey FOREIGN KEY (pool) REFERENCES edgeflow.pools(name)
);

-- Which pgmq queue holds the tasks of a handler in a pool's queue.
-- `vt_seconds` is the lease a read takes first; claims fix it per step when
-- a step's timeout differs, so the common case costs no extra statement.
create table edgeflow.handler_queues (
  pool text not null,
  queue text not null,
  handler text not null,
  queue_name text not null,
  vt_seconds integer not null,
  constraint handler_queues_pkey PRIMARY KEY (pool, queue, handler),
  constraint handler_queues_queue_name_key UNIQUE (queue_name),
  constraint handler_queues_pool_queue_fkey FOREIGN KEY (pool, queue) REFERENCES edgeflow.pool_queues(pool, name)
);

-- A worker name belongs to the key that first sent a heartbeat with it, so
-- one `worker` key cannot overwrite (or claim tasks as) another key's worker.
-- `key_id` null: the bootstrap EDGEFLOW_ADMIN_KEY (or auth disabled in dev).
-- Admin keys may heartbeat as any name (they can do everything anyway) and
-- never rebind it. Revoking a key (DELETE /deploy/keys/:id) frees its names.
--
-- Kept apart from edgeflow.workers so the check wraps edgeflow.heartbeat
-- instead of redefining it: still one statement, one round trip. A name
-- already bound costs one primary-key probe; the first heartbeat one insert.
create table edgeflow.worker_owners (
  worker text not null,
  key_id uuid,
  bound_at timestamp with time zone default now() not null,
  constraint worker_owners_pkey PRIMARY KEY (worker)
);
CREATE INDEX worker_owners_key_id ON edgeflow.worker_owners USING btree (key_id);

create table edgeflow.workers (
  name text not null,
  pool text not null,
  handlers text[],
  capacity integer default 0 not null,
  heartbeat_seconds integer not null,
  first_heartbeat_at timestamp with time zone default now() not null,
  last_heartbeat_at timestamp with time zone default now() not null,
  constraint workers_pkey PRIMARY KEY (name)
);
alter table edgeflow.workers add constraint workers_pool_fkey FOREIGN KEY (pool) REFERENCES edgeflow.pools(name) NOT VALID;
