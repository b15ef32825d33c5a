-- Deployments (a flow version bound to a pool with parameters) and variables.

create table edgeflow.deployments (
  id uuid default gen_random_uuid() not null,
  name text not null,
  flow_name text not null,
  version_pin integer,
  pool text not null,
  queue text default 'default'::text not null,
  description text,
  parameters jsonb default '{}'::jsonb not null,
  tags text[] default '{}'::text[] not null,
  concurrency_limit integer,
  collision_strategy text default 'enqueue'::text not null,
  paused boolean default false not null,
  job_variables jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  retention_days integer,
  constraint deployments_pkey PRIMARY KEY (id),
  constraint deployments_name_key UNIQUE (name),
  constraint deployments_collision_strategy_check CHECK ((collision_strategy = ANY (ARRAY['enqueue'::text, 'cancel_new'::text]))),
  constraint deployments_concurrency_limit_check CHECK ((concurrency_limit >= 0)),
  constraint deployments_retention_days_check CHECK ((retention_days >= 1)),
  constraint deployments_flow_name_fkey FOREIGN KEY (flow_name) REFERENCES edgeflow.flows(name),
  constraint deployments_pool_fkey FOREIGN KEY (pool) REFERENCES edgeflow.pools(name)
);

create table edgeflow.variables (
  name text not null,
  value jsonb,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint variables_pkey PRIMARY KEY (name)
);
