-- What every database starts with: pgmq queues the engine uses and seed rows
-- (the default pool and queue, the sweep's cursor).

select pgmq.create('ef_subflows');

insert into edgeflow.pools (name, type, concurrency_limit, paused, url, description) values ('default', 'pull', NULL, 'false', NULL, NULL);

insert into edgeflow.pool_queues (pool, name, priority, concurrency_limit, paused) values ('default', 'default', '0', NULL, 'false');

insert into edgeflow.sweep_cursor (id, created_at, run_id) values ('true', NULL, NULL);
