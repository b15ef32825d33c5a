-- Events sent to POST /trigger/events, the steps waiting on them, pending debounced triggers.

-- Events from outside (POST /trigger/events); the run event log is
-- edgeflow.events. `dedupe_id` is the client's optional id: the same id twice
-- records nothing new (within the retention, edgeflow.event_retention()).
-- `processed_at` is set once waits, cancel_on and triggers have seen the
-- event; the tick processes again what a crash left unprocessed.
create table edgeflow.inbound_events (
  id uuid default gen_random_uuid() not null,
  name text not null,
  key text default ''::text not null,
  payload jsonb,
  dedupe_id text,
  received_at timestamp with time zone not null,
  processed_at timestamp with time zone,
  runs_resumed integer default 0 not null,
  runs_started integer default 0 not null,
  seq bigint generated always as identity not null,
  constraint inbound_events_pkey PRIMARY KEY (id),
  constraint inbound_events_dedupe_id_key UNIQUE (dedupe_id)
);
-- GET /trigger/events?name=&key= (newest first) and a wait's lookback.
CREATE INDEX inbound_events_name_key ON edgeflow.inbound_events USING btree (name, key, received_at DESC);
-- The newest event of a name and key a beginning wait has already seen.
CREATE INDEX inbound_events_name_key_seq ON edgeflow.inbound_events USING btree (name, key, seq);
-- Retention pruning, oldest first.
CREATE INDEX inbound_events_received ON edgeflow.inbound_events USING btree (received_at);
-- Events a crash left unprocessed: the tick's re-processing reads only these.
CREATE INDEX inbound_events_unprocessed ON edgeflow.inbound_events USING btree (received_at) WHERE (processed_at IS NULL);

-- A deployment trigger with `debounce`: the last event of a burst per key,
-- and when its run starts (pushed back by every further event).
create table edgeflow.trigger_debounces (
  deployment_id uuid not null,
  trigger_index integer not null,
  key text not null,
  event_id uuid not null,
  fire_at timestamp with time zone not null,
  constraint trigger_debounces_pkey PRIMARY KEY (deployment_id, trigger_index, key),
  constraint trigger_debounces_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);
CREATE INDEX trigger_debounces_fire_at ON edgeflow.trigger_debounces USING btree (fire_at);

-- An open wait of a WAITING step: for an event (event_name set) or a sleep
-- (event_name null). `after_seq`: the newest event of its name and key
-- recorded before it began (read under their advisory lock); only later
-- ones can end it. The row is the wait's lock: whoever deletes it (a
-- matching event, the timeout, the run ending) decides the outcome, once.
-- task_id: the wait of a handler (`ctx.waitForEvent`, edgeflow.suspend_task):
-- its end queues that task again (edgeflow._resume_task) instead of
-- completing the step. wake_sent_at: when a QStash delayed message for its
-- timeout was published (edgeflow.claim_wait_wakeups); null: none (yet).
create table edgeflow.waits (
  run_id uuid not null,
  slug text not null,
  event_name text,
  event_key text,
  match jsonb,
  timeout_at timestamp with time zone not null,
  on_timeout text not null,
  created_at timestamp with time zone not null,
  after_seq bigint,
  task_id uuid,
  wake_sent_at timestamp with time zone,
  constraint waits_pkey PRIMARY KEY (run_id, slug),
  constraint waits_on_timeout_check CHECK ((on_timeout = ANY (ARRAY['fail'::text, 'continue'::text]))),
  constraint waits_run_id_slug_fkey FOREIGN KEY (run_id, slug) REFERENCES edgeflow.step_states(run_id, slug) ON DELETE CASCADE
);
-- An event finds its waits by name and key.
CREATE INDEX waits_event ON edgeflow.waits USING btree (event_name, event_key) WHERE (event_name IS NOT NULL);
-- The tick reads only the waits that are due: its cost follows their number,
-- not the number of waiting runs.
CREATE INDEX waits_timeout ON edgeflow.waits USING btree (timeout_at);
-- The waits no QStash wake-up was published for yet (claim_wait_wakeups).
CREATE INDEX waits_wake_unsent ON edgeflow.waits USING btree (timeout_at) WHERE (wake_sent_at IS NULL);
