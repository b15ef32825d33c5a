-- Inbound webhooks and their delivery log; outbound notifications and their outbox.

-- An inbound webhook: a provider's signed request starts a run of a deployment,
-- and/or emits an event (`emit`: {name, key, payload} templates; `start_run`
-- false: the event only).
-- Secrets are kept as given (an HMAC needs the key itself, a hash would not do);
-- they are never returned by the API. `rejected` counts refused requests
-- (bad signature, stale, inactive): nothing else of them is stored.
create table edgeflow.webhooks (
  id uuid default gen_random_uuid() not null,
  name text not null,
  deployment_id uuid not null,
  provider text not null,
  secrets text[] not null,
  options jsonb default '{}'::jsonb not null,
  filter jsonb default '{}'::jsonb not null,
  parameters jsonb default '{}'::jsonb not null,
  active boolean default true not null,
  rejected bigint default 0 not null,
  created_at timestamp with time zone not null,
  updated_at timestamp with time zone not null,
  emit jsonb,
  start_run boolean default true not null,
  constraint webhooks_pkey PRIMARY KEY (id),
  constraint webhooks_name_key UNIQUE (name),
  constraint webhooks_provider_check CHECK ((provider = ANY (ARRAY['github'::text, 'stripe'::text, 'standard'::text, 'slack'::text, 'hmac'::text, 'token'::text]))),
  constraint webhooks_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);

-- One row per (webhook, dedupe_key): the unique key is what makes a
-- redelivered request return the run of the first one. dedupe_key is the
-- provider's delivery id where the signature covers it (Stripe's event id,
-- webhook-id, Slack's event_id), else a hash of the signed body (GitHub,
-- hmac, token: their id headers are not signed, so a replay under a new id
-- must not start a second run); delivery_id is the id as sent, for people.
-- Payloads (headers, body, query) are kept for 7 days, the rows for 30
-- (prune_webhooks). event_id: the event the delivery emitted (its dedupe id
-- is 'webhook:<webhook id>:<dedupe_key>', so a retried failed delivery
-- records it once).
create table edgeflow.webhook_deliveries (
  id uuid default gen_random_uuid() not null,
  webhook_id uuid not null,
  delivery_id text not null,
  dedupe_key text not null,
  event text,
  outcome text not null,
  run_id uuid,
  error jsonb,
  headers jsonb,
  body text,
  query jsonb,
  redelivery_of uuid,
  received_at timestamp with time zone not null,
  event_id uuid,
  constraint webhook_deliveries_pkey PRIMARY KEY (id),
  constraint webhook_deliveries_outcome_check CHECK ((outcome = ANY (ARRAY['started'::text, 'ignored'::text, 'failed'::text, 'emitted'::text]))),
  constraint webhook_deliveries_run_id_fkey FOREIGN KEY (run_id) REFERENCES edgeflow.runs(id) ON DELETE SET NULL,
  constraint webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES edgeflow.webhooks(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webhook_deliveries_dedupe ON edgeflow.webhook_deliveries USING btree (webhook_id, dedupe_key);
CREATE INDEX webhook_deliveries_newest ON edgeflow.webhook_deliveries USING btree (webhook_id, received_at DESC, id DESC);
CREATE INDEX webhook_deliveries_received ON edgeflow.webhook_deliveries USING btree (received_at);

-- An outbound notification: run transitions POSTed, signed the Standard Webhooks way.
create table edgeflow.notifications (
  id uuid default gen_random_uuid() not null,
  name text not null,
  url text not null,
  secret text not null,
  events text[] not null,
  flows text[],
  deployments text[],
  active boolean default true not null,
  created_at timestamp with time zone not null,
  updated_at timestamp with time zone not null,
  constraint notifications_pkey PRIMARY KEY (id),
  constraint notifications_name_key UNIQUE (name)
);

-- The outbox: one row per (notification, run, event), written by the runs
-- trigger in the engine's transaction, sent after it by the drain (tick,
-- waitUntil, QStash wake-ups). `message_id` is the stable webhook-id.
create table edgeflow.notification_deliveries (
  id uuid default gen_random_uuid() not null,
  notification_id uuid not null,
  message_id text not null,
  run_id uuid not null,
  event text not null,
  payload jsonb not null,
  status text default 'pending'::text not null,
  attempts integer default 0 not null,
  next_attempt_at timestamp with time zone not null,
  last_attempt_at timestamp with time zone,
  last_status integer,
  last_error text,
  delivered_at timestamp with time zone,
  created_at timestamp with time zone not null,
  constraint notification_deliveries_pkey PRIMARY KEY (id),
  constraint notification_deliveries_message_id_key UNIQUE (message_id),
  constraint notification_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text]))),
  constraint notification_deliveries_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES edgeflow.notifications(id) ON DELETE CASCADE
);
-- The drain reads due rows through this index only.
CREATE INDEX notification_deliveries_due ON edgeflow.notification_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);
CREATE INDEX notification_deliveries_newest ON edgeflow.notification_deliveries USING btree (notification_id, created_at DESC, id DESC);
