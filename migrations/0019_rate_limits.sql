-- Rate limiting and duplicate suppression in Postgres: what answers when
-- Upstash Redis is not configured or not reachable (shared/ratelimit/
-- postgres.ts). The same fixed-window rule as the Redis script, one upsert
-- per question, so verdicts do not change in character when Redis goes.
--
-- The counters are UNLOGGED: they are worth nothing after a crash (a window
-- lasts seconds) and skipping the WAL halves the cost of a trigger's check.
-- Duplicate keys are logged: a restart must not re-admit a delivery.

create unlogged table edgeflow.rate_limit_windows (
  key text primary key,
  count integer not null,
  window_end timestamptz not null
);
create index rate_limit_windows_end on edgeflow.rate_limit_windows (window_end);

create table edgeflow.duplicate_keys (
  key text primary key,
  expires_at timestamptz not null
);
create index duplicate_keys_expiry on edgeflow.duplicate_keys (expires_at);

-- Count one request under `p_key` in a fixed window of `p_window_ms`:
-- returns {count, ttl_ms}, the count including this request and the time
-- left in its window. A window that has ended starts over at 1.
create function edgeflow.rate_limit_hit(p_key text, p_window_ms integer)
returns jsonb language sql set search_path = '' as $$
  insert into edgeflow.rate_limit_windows as w (key, count, window_end)
  values (p_key, 1, clock_timestamp() + make_interval(secs => p_window_ms / 1000.0))
  on conflict (key) do update
     set count = case when w.window_end <= clock_timestamp() then 1 else w.count + 1 end,
         window_end = case when w.window_end <= clock_timestamp()
                           then clock_timestamp() + make_interval(secs => p_window_ms / 1000.0)
                           else w.window_end end
  returning jsonb_build_object(
    'count', w.count,
    'ttl_ms', greatest(1, ceil(extract(epoch from w.window_end - clock_timestamp()) * 1000))::int);
$$;

-- Record `p_key` for `p_ttl_ms`; true on its first sighting (or once its
-- previous record expired), false for a duplicate. Atomic under concurrency:
-- the primary key makes one of two racing inserts wait for the other.
create function edgeflow.first_seen(p_key text, p_ttl_ms integer)
returns boolean language sql set search_path = '' as $$
  with hit as (
    insert into edgeflow.duplicate_keys as d (key, expires_at)
    values (p_key, clock_timestamp() + make_interval(secs => p_ttl_ms / 1000.0))
    on conflict (key) do update set expires_at = excluded.expires_at
     where d.expires_at <= clock_timestamp()
    returning 1)
  select exists (select 1 from hit);
$$;

-- Forget ended windows and expired keys, oldest first, at most `p_limit` each.
create function edgeflow.prune_rate_limits(p_limit integer default 1000)
returns integer language plpgsql set search_path = '' as $$
declare
  v_windows integer;
  v_keys integer;
begin
  delete from edgeflow.rate_limit_windows where key in (
    select key from edgeflow.rate_limit_windows where window_end < clock_timestamp()
     order by window_end limit p_limit);
  get diagnostics v_windows = row_count;
  delete from edgeflow.duplicate_keys where key in (
    select key from edgeflow.duplicate_keys where expires_at < clock_timestamp()
     order by expires_at limit p_limit);
  get diagnostics v_keys = row_count;
  return v_windows + v_keys;
end
$$;

-- The tick prunes them with the sweep (sweep_expired is what it calls).
create or replace function edgeflow.sweep_expired(p_limit integer default 1000)
returns jsonb language sql set search_path = '' as $$
  select jsonb_build_object('swept', s -> 'swept', 'requeued', s -> 'requeued',
                            'failed', s -> 'failed', 'cancelled', s -> 'cancelled')
    from edgeflow.sweep(p_limit) as s, edgeflow.prune_rate_limits(p_limit) as p;
$$;
