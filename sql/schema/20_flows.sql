-- Registered flows, their immutable versions and the steps of each version.

create table edgeflow.flows (
  name text not null,
  created_at timestamp with time zone default now() not null,
  constraint flows_pkey PRIMARY KEY (name)
);

create table edgeflow.flow_versions (
  id uuid default gen_random_uuid() not null,
  flow_name text not null,
  version integer not null,
  version_group text not null,
  hash text not null,
  idempotency_key text,
  definition jsonb not null,
  settings jsonb not null,
  archived boolean default false not null,
  archived_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  constraint flow_versions_pkey PRIMARY KEY (id),
  constraint flow_versions_flow_name_version_key UNIQUE (flow_name, version),
  constraint flow_versions_flow_name_fkey FOREIGN KEY (flow_name) REFERENCES edgeflow.flows(name)
);
CREATE INDEX flow_versions_group ON edgeflow.flow_versions USING btree (version_group) WHERE (NOT archived);

create table edgeflow.flow_steps (
  flow_version_id uuid not null,
  slug text not null,
  step_index integer not null,
  handler text not null,
  depends_on text[] default '{}'::text[] not null,
  dependents text[] default '{}'::text[] not null,
  map_from text,
  max_attempts integer not null,
  base_delay double precision not null,
  timeout integer not null,
  start_delay integer default 0 not null,
  args jsonb,
  deployment text,
  wait jsonb,
  concurrency jsonb,
  constraint flow_steps_pkey PRIMARY KEY (flow_version_id, slug),
  constraint flow_steps_flow_version_id_fkey FOREIGN KEY (flow_version_id) REFERENCES edgeflow.flow_versions(id)
);
