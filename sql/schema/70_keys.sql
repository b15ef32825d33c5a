-- API keys and dashboard sessions.

create table edgeflow.api_keys (
  id uuid default gen_random_uuid() not null,
  name text not null,
  hash text not null,
  prefix text not null,
  scopes text[] not null,
  expires_at timestamp with time zone,
  revoked boolean default false not null,
  created_at timestamp with time zone default now() not null,
  constraint api_keys_pkey PRIMARY KEY (id),
  constraint api_keys_hash_key UNIQUE (hash)
);
