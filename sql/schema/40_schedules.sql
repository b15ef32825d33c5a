-- Schedules of deployments and the deduplication of their push deliveries.

-- Deduplication of inbound QStash deliveries by Upstash-Message-Id.
create table edgeflow.qstash_deliveries (
  message_id text not null,
  schedule_id uuid,
  scheduled_time timestamp with time zone,
  result jsonb,
  received_at timestamp with time zone not null,
  constraint qstash_deliveries_pkey PRIMARY KEY (message_id)
);
CREATE INDEX qstash_deliveries_received ON edgeflow.qstash_deliveries USING btree (received_at);

create table edgeflow.schedules (
  id uuid default gen_random_uuid() not null,
  deployment_id uuid not null,
  position integer not null,
  kind text not null,
  spec jsonb not null,
  timezone text not null,
  parameters jsonb default '{}'::jsonb not null,
  active boolean default true not null,
  catchup text default 'latest'::text not null,
  max_late integer default 3600 not null,
  next_fire_at timestamp with time zone,
  deployment_paused boolean default false not null,
  resumed_at timestamp with time zone,
  last_error jsonb,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  plan_gen bigint default 1 not null,
  planned_gen bigint default 0 not null,
  constraint schedules_pkey PRIMARY KEY (id),
  constraint schedules_catchup_check CHECK ((catchup = ANY (ARRAY['none'::text, 'latest'::text, 'all'::text]))),
  constraint schedules_kind_check CHECK ((kind = ANY (ARRAY['cron'::text, 'interval'::text, 'rrule'::text]))),
  constraint schedules_max_late_check CHECK ((max_late >= 0)),
  constraint schedules_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);
CREATE INDEX schedules_deployment ON edgeflow.schedules USING btree (deployment_id, "position");
-- The tick reads due schedules through this index only: its cost follows the
-- number of due schedules, not the number of schedules.
CREATE INDEX schedules_due ON edgeflow.schedules USING btree (next_fire_at, id) WHERE (active AND (NOT deployment_paused) AND (next_fire_at IS NOT NULL));
-- Schedules whose plan is missing or older than what it was made from
-- (plan_gen: bumped by the triggers of schedules, deployments and
-- flow_versions when a plan's input changes; planned_gen: the generation the
-- stored plan was made from). edgeflow.schedules_to_plan reads them through
-- this index, not by comparing every schedule with its plan: that comparison
-- was the whole of an empty tick (350 ms over 10,000 schedules, 63,036
-- buffers, on the loaded 2-core machine).
CREATE INDEX schedules_to_plan ON edgeflow.schedules USING btree (next_fire_at, id) WHERE ((plan_gen <> planned_gen) AND active AND (NOT deployment_paused) AND (next_fire_at IS NOT NULL));

-- Fire times planned ahead in TypeScript (shared/scheduler/plan_ahead.ts:
-- croner, rrule and the DST rules stay in one implementation) for the SQL
-- tick, edgeflow.tick(), which pg_cron runs without HTTP. One row per
-- schedule: every fire time from times[1] to planned_until, made for the
-- spec, timezone, merged parameters and flow version recorded beside them
-- (the SQL tick ignores a plan any of them no longer matches); final: the
-- schedule fires no more after the last one.
create table edgeflow.schedule_plans (
  schedule_id uuid not null,
  spec jsonb not null,
  timezone text not null,
  parameters jsonb not null,
  version_id uuid,
  times timestamp with time zone[] not null,
  planned_until timestamp with time zone not null,
  final boolean default false not null,
  refill_at timestamp with time zone,
  constraint schedule_plans_pkey PRIMARY KEY (schedule_id),
  constraint schedule_plans_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES edgeflow.schedules(id) ON DELETE CASCADE
);
-- Plans to make again because half of them has passed (refill_at: when, set
-- by edgeflow.save_schedule_plans; null for a final plan).
CREATE INDEX schedule_plans_refill ON edgeflow.schedule_plans USING btree (refill_at) WHERE (refill_at IS NOT NULL);
