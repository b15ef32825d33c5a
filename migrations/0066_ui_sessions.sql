-- Dashboard sessions (shared/ui/session.ts). The cookie holds a random token;
-- only its SHA-256 is stored here, so a database dump cannot be replayed as a
-- cookie. A session belongs to the key that signed in: revoking or expiring
-- the key ends it (the lookup joins the key), and deleting the key's row
-- deletes its sessions. Sessions of the bootstrap EDGEFLOW_ADMIN_KEY keep the
-- hash of the admin key they signed in with, so rotating that key ends them.
-- Sign-out deletes the row: a replayed cookie then finds nothing.
create table edgeflow.ui_sessions (
  hash text primary key,
  key_id uuid references edgeflow.api_keys (id) on delete cascade,
  admin_key_hash text,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  constraint ui_sessions_one_owner check ((key_id is null) <> (admin_key_hash is null))
);

create index ui_sessions_key_id on edgeflow.ui_sessions (key_id);
create index ui_sessions_expires_at on edgeflow.ui_sessions (expires_at);
