-- Bad input, part 1 (issue 10, item 11): two contract holes of pools.
--
-- A pool's `description` was accepted by POST /deploy/pools and dropped:
-- it is stored now and shown by pool_json (0010's definition, otherwise
-- unchanged; no later migration replaced it).
--
-- A heartbeat naming a pool that does not exist recorded a worker that could
-- never get work. workers.pool now references pools: the heartbeat's insert
-- fails with 23503 on `workers_pool_fkey`, which the error map turns into a
-- 422 at `pool`. A foreign key, not a lookup in edgeflow.heartbeat(): the
-- function stays as it is (others change it), and the check is the same
-- primary-key probe either way. `not valid`: rows recorded before this
-- migration (possibly naming unknown pools) are left alone; new ones are checked.

alter table edgeflow.pools add column description text;

alter table edgeflow.workers
  add constraint workers_pool_fkey foreign key (pool) references edgeflow.pools (name)
  not valid;

create or replace function edgeflow.pool_json(p_name text)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'name', p.name, 'type', p.type, 'description', p.description,
    'concurrency_limit', p.concurrency_limit,
    'paused', p.paused, 'url', p.url,
    'queues', coalesce((select jsonb_agg(jsonb_build_object(
                 'name', q.name, 'priority', q.priority,
                 'concurrency_limit', q.concurrency_limit, 'paused', q.paused) order by q.name)
               from edgeflow.pool_queues q where q.pool = p.name), '[]'),
    'created_at', edgeflow.iso(p.created_at), 'updated_at', edgeflow.iso(p.updated_at))
    from edgeflow.pools p where p.name = p_name;
$$;
