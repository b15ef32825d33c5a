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
  revoked_at timestamp with time zone,
  last_used_at timestamp with time zone,
  constraint api_keys_pkey PRIMARY KEY (id),
  constraint api_keys_hash_key UNIQUE (hash)
);

-- Dashboard sessions (shared/ui/session.ts). The cookie holds a random token;
-- only its SHA-256 is stored here, so a database dump cannot be replayed as a
-- cookie. A session belongs to the key that signed in: revoking or expiring
-- the key ends it (the lookup joins the key), and deleting the key's row
-- deletes its sessions. Sessions of the bootstrap EDGEFLOW_ADMIN_KEY keep the
-- hash of the admin key they signed in with, so rotating that key ends them.
-- Sign-out deletes the row: a replayed cookie then finds nothing.
create table edgeflow.ui_sessions (
  hash text not null,
  key_id uuid,
  admin_key_hash text,
  created_at timestamp with time zone not null,
  expires_at timestamp with time zone not null,
  constraint ui_sessions_pkey PRIMARY KEY (hash),
  constraint ui_sessions_one_owner CHECK (((key_id IS NULL) <> (admin_key_hash IS NULL))),
  constraint ui_sessions_key_id_fkey FOREIGN KEY (key_id) REFERENCES edgeflow.api_keys(id) ON DELETE CASCADE
);
CREATE INDEX ui_sessions_expires_at ON edgeflow.ui_sessions USING btree (expires_at);
CREATE INDEX ui_sessions_key_id ON edgeflow.ui_sessions USING btree (key_id);
