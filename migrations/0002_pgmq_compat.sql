-- edgeflow:skip-if select exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgmq')
--
-- A SQL implementation of the part of pgmq 1.5 that edgeflow calls, written
-- from pgmq's documented behaviour: one table `pgmq.q_<name>` per queue and an
-- archive `pgmq.a_<name>`; a message is invisible until `vt`; `read` makes the
-- oldest visible messages invisible for `vt` seconds and bumps `read_ct`.
-- Installed only when the real extension is absent (PGlite, plain Postgres).

create schema pgmq;

create table pgmq.meta (
  queue_name varchar unique not null,
  is_partitioned boolean not null default false,
  is_unlogged boolean not null default false,
  created_at timestamptz not null default now()
);

create type pgmq.message_record as (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamptz,
  vt timestamptz,
  message jsonb,
  headers jsonb
);

create type pgmq.metrics_result as (
  queue_name text,
  queue_length bigint,
  newest_msg_age_sec integer,
  oldest_msg_age_sec integer,
  total_messages bigint,
  scrape_time timestamptz,
  queue_visible_length bigint
);

-- Queue names become table names: keep them to what pgmq accepts.
create function pgmq.format_table_name(queue_name text, prefix text)
returns text language plpgsql immutable set search_path = '' as $$
begin
  if queue_name !~ '^[A-Za-z0-9_]+$' then
    raise exception 'queue name contains invalid characters: %', queue_name using errcode = '22023';
  end if;
  if length(queue_name) >= 48 then
    raise exception 'queue name is too long, maximum length is 47 characters' using errcode = '22023';
  end if;
  return lower(prefix || '_' || queue_name);
end
$$;

create function pgmq.create(queue_name text)
returns void language plpgsql set search_path = '' as $$
declare
  qtable text := pgmq.format_table_name(queue_name, 'q');
  atable text := pgmq.format_table_name(queue_name, 'a');
begin
  -- Two sessions creating one queue at once would race in the catalog.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgmq.create:' || qtable));
  execute format(
    'create table if not exists pgmq.%I (
       msg_id bigint primary key generated always as identity,
       read_ct integer not null default 0,
       enqueued_at timestamptz not null default now(),
       vt timestamptz not null,
       message jsonb,
       headers jsonb)', qtable);
  execute format(
    'create table if not exists pgmq.%I (
       msg_id bigint primary key,
       read_ct integer not null default 0,
       enqueued_at timestamptz not null default now(),
       archived_at timestamptz not null default now(),
       vt timestamptz not null,
       message jsonb,
       headers jsonb)', atable);
  execute format('create index if not exists %I on pgmq.%I (vt asc)', qtable || '_vt_idx', qtable);
  insert into pgmq.meta (queue_name) values (queue_name) on conflict do nothing;
end
$$;

create function pgmq.send(queue_name text, msg jsonb, headers jsonb, delay timestamptz)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')) using delay, msg, headers;
end
$$;

create function pgmq.send(queue_name text, msg jsonb, delay integer default 0)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query select pgmq.send(queue_name, msg, null::jsonb, clock_timestamp() + make_interval(secs => delay));
end
$$;

create function pgmq.send(queue_name text, msg jsonb, delay timestamptz)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query select pgmq.send(queue_name, msg, null::jsonb, delay);
end
$$;

create function pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer default 0)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query select pgmq.send(queue_name, msg, headers, clock_timestamp() + make_interval(secs => delay));
end
$$;

-- Ids come back in the order of `msgs` (identity values follow insertion order).
create function pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamptz)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers)
     select $1, m.msg, $3[m.ord]
       from unnest($2) with ordinality as m(msg, ord)
      order by m.ord
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')) using delay, msgs, headers;
end
$$;

create function pgmq.send_batch(queue_name text, msgs jsonb[], delay integer default 0)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query select pgmq.send_batch(queue_name, msgs, null::jsonb[],
                         clock_timestamp() + make_interval(secs => delay));
end
$$;

create function pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz)
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query select pgmq.send_batch(queue_name, msgs, null::jsonb[], delay);
end
$$;

-- `skip locked` lets many readers take disjoint messages without waiting on
-- each other; `conditional` filters on containment as pgmq does.
create function pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb default '{}')
returns setof pgmq.message_record language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'with picked as (
       select msg_id from pgmq.%1$I
        where vt <= clock_timestamp() and ($3 = ''{}''::jsonb or message @> $3)
        order by msg_id
        limit $2
        for update skip locked)
     update pgmq.%1$I q
        set vt = clock_timestamp() + make_interval(secs => $1), read_ct = q.read_ct + 1
       from picked
      where q.msg_id = picked.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q')) using vt, qty, coalesce(conditional, '{}'::jsonb);
end
$$;

create function pgmq.pop(queue_name text)
returns setof pgmq.message_record language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'with picked as (
       select msg_id from pgmq.%1$I where vt <= clock_timestamp()
        order by msg_id limit 1 for update skip locked)
     delete from pgmq.%1$I q using picked where q.msg_id = picked.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q'));
end
$$;

create function pgmq.delete(queue_name text, msg_id bigint)
returns boolean language plpgsql set search_path = '' as $$
declare
  found_id bigint;
begin
  execute format('delete from pgmq.%I where msg_id = $1 returning msg_id',
                 pgmq.format_table_name(queue_name, 'q'))
    into found_id using msg_id;
  return found_id is not null;
end
$$;

create function pgmq.delete(queue_name text, msg_ids bigint[])
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query execute format('delete from pgmq.%I where msg_id = any($1) returning msg_id',
                              pgmq.format_table_name(queue_name, 'q')) using msg_ids;
end
$$;

create function pgmq.archive(queue_name text, msg_ids bigint[])
returns setof bigint language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'with gone as (delete from pgmq.%I where msg_id = any($1) returning *)
     insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
     select msg_id, read_ct, enqueued_at, vt, message, headers from gone
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a'))
    using msg_ids;
end
$$;

create function pgmq.archive(queue_name text, msg_id bigint)
returns boolean language plpgsql set search_path = '' as $$
begin
  return (select exists (select 1 from pgmq.archive(queue_name, array[msg_id])));
end
$$;

create function pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
returns setof pgmq.message_record language plpgsql set search_path = '' as $$
begin
  return query execute format(
    'update pgmq.%I set vt = clock_timestamp() + make_interval(secs => $2) where msg_id = $1
     returning msg_id, read_ct, enqueued_at, vt, message, headers',
    pgmq.format_table_name(queue_name, 'q')) using msg_id, vt;
end
$$;

create function pgmq.purge_queue(queue_name text)
returns bigint language plpgsql set search_path = '' as $$
declare
  n bigint;
begin
  execute format('with gone as (delete from pgmq.%I returning 1) select count(*) from gone',
                 pgmq.format_table_name(queue_name, 'q')) into n;
  return n;
end
$$;

create function pgmq.drop_queue(queue_name text)
returns boolean language plpgsql set search_path = '' as $$
begin
  execute format('drop table if exists pgmq.%I', pgmq.format_table_name(queue_name, 'q'));
  execute format('drop table if exists pgmq.%I', pgmq.format_table_name(queue_name, 'a'));
  delete from pgmq.meta m where m.queue_name = drop_queue.queue_name;
  return true;
end
$$;

create function pgmq.metrics(queue_name text)
returns pgmq.metrics_result language plpgsql set search_path = '' as $$
declare
  result pgmq.metrics_result;
begin
  execute format(
    'select $1::text,
            count(*)::bigint,
            extract(epoch from clock_timestamp() - max(enqueued_at))::integer,
            extract(epoch from clock_timestamp() - min(enqueued_at))::integer,
            greatest(coalesce((select max(msg_id) from pgmq.%1$I), 0),
                     coalesce((select max(msg_id) from pgmq.%2$I), 0)),
            clock_timestamp(),
            count(*) filter (where vt <= clock_timestamp())::bigint
       from pgmq.%1$I',
    pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a'))
    into result using queue_name;
  return result;
end
$$;

create function pgmq.list_queues()
returns setof pgmq.meta language sql set search_path = '' as $$
  select * from pgmq.meta order by queue_name;
$$;
