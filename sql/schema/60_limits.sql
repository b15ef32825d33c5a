-- Concurrency limits and the slots that hold them; rate-limit windows; duplicate keys.

create table edgeflow.concurrency_limits (
  tag text not null,
  "limit" integer not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint concurrency_limits_pkey PRIMARY KEY (tag),
  constraint concurrency_limits_limit_check CHECK (("limit" >= 0))
);

create table edgeflow.duplicate_keys (
  key text not null,
  expires_at timestamp with time zone not null,
  constraint duplicate_keys_pkey PRIMARY KEY (key)
);
CREATE INDEX duplicate_keys_expiry ON edgeflow.duplicate_keys USING btree (expires_at);

create unlogged table edgeflow.rate_limit_windows (
  key text not null,
  count integer not null,
  window_end timestamp with time zone not null,
  constraint rate_limit_windows_pkey PRIMARY KEY (key)
);
CREATE INDEX rate_limit_windows_end ON edgeflow.rate_limit_windows USING btree (window_end);

-- limit_key: 'tag:<tag>', 'pool:<pool>', 'queue:<pool>/<queue>' (task
-- holders) or 'deployment:<id>' (run holders). holder: task id or run id.
create table edgeflow.slots (
  limit_key text not null,
  holder uuid not null,
  run_id uuid not null,
  acquired_at timestamp with time zone not null,
  constraint slots_pkey PRIMARY KEY (limit_key, holder)
);
CREATE INDEX slots_holder ON edgeflow.slots USING btree (holder);
CREATE INDEX slots_run ON edgeflow.slots USING btree (run_id);

-- Per-key concurrency of a deployment (issue 16): when each key last had a
-- run admitted, as a turn number per deployment. Waiting runs are admitted
-- key by key, the key served longest ago first (round robin), so a key
-- with many waiting runs cannot starve one with few.
create table edgeflow.concurrency_key_turns (
  deployment_id uuid not null,
  limit_key text not null,
  turn bigint not null,
  constraint concurrency_key_turns_pkey PRIMARY KEY (deployment_id, limit_key),
  constraint concurrency_key_turns_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);
