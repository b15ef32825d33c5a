-- A SQL implementation of the part of pgmq 1.5 that edgeflow calls, written
-- from pgmq's documented behaviour: one table `pgmq.q_<name>` per queue and an
-- archive `pgmq.a_<name>`; a message is invisible until `vt`; `read` makes the
-- oldest visible messages invisible for `vt` seconds and bumps `read_ct`.
-- Installed only when the real extension is absent (PGlite, plain Postgres).

create schema pgmq;

create type pgmq.message_record as (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamp with time zone,
  vt timestamp with time zone,
  message jsonb,
  headers jsonb
);

create type pgmq.metrics_result as (
  queue_name text,
  queue_length bigint,
  newest_msg_age_sec integer,
  oldest_msg_age_sec integer,
  total_messages bigint,
  scrape_time timestamp with time zone,
  queue_visible_length bigint
);

create table pgmq.meta (
  queue_name character varying not null,
  is_partitioned boolean default false not null,
  is_unlogged boolean default false not null,
  created_at timestamp with time zone default now() not null,
  constraint meta_queue_name_key UNIQUE (queue_name)
);
