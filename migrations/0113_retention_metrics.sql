-- retention_metrics (issue 15): retention of finished runs, events partitioned by their
-- run's creation day, counters for /metrics. Written by `deno task sql:migration` from
-- what changed in sql/, the events table's conversion by hand.

-- Retention (issue 15): a deployment may keep its runs longer or shorter
-- than EDGEFLOW_RETENTION_DAYS.
alter table edgeflow.deployments add column retention_days integer;

-- Events become partitioned by the creation day of their run, so retention
-- drops a day instead of deleting its rows (sql/schema/80_events.sql). A
-- table cannot be turned into a partitioned one: the old one is renamed,
-- copied into the new one and dropped. Its rows land in the DEFAULT
-- partition; edgeflow.ensure_partitions (last statement here) moves them
-- into day partitions.
alter table edgeflow.events rename to events_v1;
alter table edgeflow.events_v1 rename constraint events_pkey to events_v1_pkey;
alter table edgeflow.events_v1 rename constraint events_kind_check to events_v1_kind_check;
alter index edgeflow.events_run rename to events_v1_run;
alter sequence edgeflow.events_id_seq rename to events_v1_id_seq;

create table edgeflow.events (
  id bigint generated always as identity not null,
  run_id uuid not null,
  kind text not null,
  step text,
  task uuid,
  attempt integer,
  from_status text,
  to_status text not null,
  at timestamp with time zone default clock_timestamp() not null,
  error jsonb,
  run_created_at timestamp with time zone not null,
  constraint events_pkey PRIMARY KEY (id, run_created_at),
  constraint events_kind_check CHECK ((kind = ANY (ARRAY['run'::text, 'step'::text, 'task'::text])))
) partition by range (run_created_at);
-- A run's events after a given id: the only read (polls, SSE resumption).
CREATE INDEX events_run ON edgeflow.events USING btree (run_id, id);
create table edgeflow.events_default partition of edgeflow.events default;

-- Events of runs that no longer exist take their own time as the run's.
insert into edgeflow.events (id, run_id, kind, step, task, attempt, from_status, to_status, at,
                             error, run_created_at) overriding system value
select e.id, e.run_id, e.kind, e.step, e.task, e.attempt, e.from_status, e.to_status, e.at,
       e.error, coalesce(r.created_at, e.at)
  from edgeflow.events_v1 e left join edgeflow.runs r on r.id = e.run_id;
select pg_catalog.setval(pg_catalog.pg_get_serial_sequence('edgeflow.events', 'id'),
                         coalesce((select max(id) from edgeflow.events_v1), 0) + 1, false);
drop table edgeflow.events_v1;

alter table edgeflow.deployments add constraint deployments_retention_days_check CHECK ((retention_days >= 1));

CREATE INDEX runs_prunable ON edgeflow.runs USING btree (deployment_id, ended_at) WHERE ((deployment_id IS NOT NULL) AND (status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])));

CREATE INDEX runs_prunable_adhoc ON edgeflow.runs USING btree (ended_at) WHERE ((deployment_id IS NULL) AND (status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])));

create table edgeflow.maintenance_counters (
  name text not null,
  value bigint default 0 not null,
  constraint maintenance_counters_pkey PRIMARY KEY (name)
);

-- from sql/functions/edgeflow._run_pinned.sql
-- Retention's guard (edgeflow.prune_runs): a finished run is kept while a
-- child run of it (a subflow step or ctx.runDeployment names its parent's
-- task) or its parent run has not finished. A function the planner cannot
-- inline (it has a SET clause), so prune_runs tests it per candidate in
-- index order and stops at its batch: inlined, the two anti-joins were
-- planned over all 927,000 runs past retention of 1,000,000 (2 s a batch).
CREATE OR REPLACE FUNCTION edgeflow._run_pinned(p_run uuid, p_parent_task uuid)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select exists (select 1 from edgeflow.tasks t join edgeflow.runs ch on ch.parent_task_id = t.id
                  where t.run_id = p_run
                    and ch.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
      or exists (select 1 from edgeflow.tasks pt join edgeflow.runs p on p.id = pt.run_id
                  where pt.id = p_parent_task
                    and p.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'));
$function$;

-- from sql/functions/edgeflow.deployment_json.sql
-- The deployment document (0010's, now with its schedules).
CREATE OR REPLACE FUNCTION edgeflow.deployment_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name,
    'version', coalesce(to_jsonb(d.version_pin), '"latest"'::jsonb),
    'pool', d.pool, 'queue', d.queue, 'description', d.description,
    'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'concurrency_limit', d.concurrency_limit, 'collision_strategy', d.collision_strategy,
    'paused', d.paused, 'job_variables', d.job_variables, 'retention_days', d.retention_days,
    'schedules', coalesce((
      select jsonb_agg(edgeflow.schedule_entry_json(s, d.paused) order by s.position)
        from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb),
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$function$;

-- from sql/functions/edgeflow.drop_partitions.sql
-- Retention of a table partitioned by day of run_created_at (see
-- edgeflow.ensure_partitions): drops, oldest first and at most p_limit, the
-- day partitions that have ended and of whose day no run is left
-- (edgeflow.prune_runs deleted them, or they never existed). A day with one
-- run still kept (unfinished, a longer retention, a parent of a running
-- child) keeps its whole partition until that run goes. The check is one
-- probe of runs_newest per partition. Returns the number dropped.
CREATE OR REPLACE FUNCTION edgeflow.drop_partitions(p_table text, p_limit integer DEFAULT 7)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_part record;
  v_dropped integer := 0;
  v_lock text := pg_catalog.current_setting('lock_timeout');
begin
  for v_part in
    select c.relname as name,
           pg_catalog.to_date(pg_catalog.right(c.relname, 8), 'YYYYMMDD')::timestamp
             at time zone 'UTC' as day
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
     where i.inhparent = pg_catalog.to_regclass('edgeflow.' || p_table)
       and c.relname ~ ('^' || p_table || '_p[0-9]{8}$')
     order by c.relname
  loop
    exit when v_dropped >= p_limit or v_part.day + interval '1 day' > edgeflow.now();
    continue when exists (select 1 from edgeflow.runs r
                           where r.created_at >= v_part.day
                             and r.created_at < v_part.day + interval '1 day');
    begin
      perform pg_catalog.set_config('lock_timeout', '100ms', true);
      execute pg_catalog.format('drop table edgeflow.%I', v_part.name);
      v_dropped := v_dropped + 1;
    exception when lock_not_available then
      null; -- busy: the next pass tries again
    end;
    perform pg_catalog.set_config('lock_timeout', v_lock, true);
  end loop;
  return v_dropped;
end
$function$;

-- from sql/functions/edgeflow.ensure_partitions.sql
-- Day partitions of a table partitioned by range (run_created_at)
-- (edgeflow.events; the hook for any other run-keyed log): makes sure
-- `<table>_pYYYYMMDD` exists for today and the two days ahead, and for
-- every day the DEFAULT partition holds rows of (a tick was missed, or a test
-- moved the clock), moving those rows into their day. Returns the number of
-- partitions created. Creating a partition locks the parent briefly: a pass
-- that cannot have the lock within 100 ms leaves it to the next one.
CREATE OR REPLACE FUNCTION edgeflow.ensure_partitions(p_table text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_day timestamptz;
  v_name text;
  v_rows jsonb;
  v_created integer := 0;
  v_lock text := pg_catalog.current_setting('lock_timeout');
begin
  -- Two passes at once would race to create the same table.
  if not pg_catalog.pg_try_advisory_xact_lock(7269, pg_catalog.hashtext(p_table)) then
    return 0;
  end if;
  for v_day in execute pg_catalog.format(
    'select d from pg_catalog.generate_series($1, $1 + interval ''2 days'',
                                              interval ''1 day'') d
     union
     select distinct pg_catalog.date_trunc(''day'', run_created_at, ''UTC'') from edgeflow.%I
     order by 1', p_table || '_default')
    using pg_catalog.date_trunc('day', edgeflow.now(), 'UTC')
  loop
    v_name := p_table || '_p' || pg_catalog.to_char(v_day at time zone 'UTC', 'YYYYMMDD');
    continue when pg_catalog.to_regclass('edgeflow.' || v_name) is not null;
    begin
      perform pg_catalog.set_config('lock_timeout', '100ms', true);
      -- A new partition may not cover rows the DEFAULT partition holds: move them.
      execute pg_catalog.format(
        'with moved as (delete from edgeflow.%I where run_created_at >= $1 and run_created_at < $2 returning *)
         select coalesce(jsonb_agg(to_jsonb(moved)), ''[]'') from moved', p_table || '_default')
        into v_rows using v_day, v_day + interval '1 day';
      execute pg_catalog.format(
        'create table edgeflow.%I partition of edgeflow.%I for values from (%L) to (%L)',
        v_name, p_table, v_day, v_day + interval '1 day');
      execute pg_catalog.format(
        'insert into edgeflow.%I overriding system value
         select * from jsonb_populate_recordset(null::edgeflow.%I, $1)', p_table, p_table)
        using v_rows;
      v_created := v_created + 1;
    exception when lock_not_available then
      null; -- the next pass tries again
    end;
    perform pg_catalog.set_config('lock_timeout', v_lock, true);
  end loop;
  return v_created;
end
$function$;

-- from sql/functions/edgeflow.prune_runs.sql
-- Retention of runs: deletes at most p_limit finished runs (their steps and
-- tasks go with them, on delete cascade) that ended more than their
-- deployment's retention_days ago (p_retention_days, EDGEFLOW_RETENTION_DAYS,
-- for ad hoc runs and deployments without one). Never an unfinished run, a
-- crashed run Lazarus will still resurrect, a run with a child run that has
-- not finished, or a child whose parent run has not (edgeflow._run_pinned). Their events go by
-- partition (edgeflow.drop_partitions). Returns the number of runs deleted.
--
-- Candidates are read per deployment (and for ad hoc runs) through
-- runs_prunable, oldest end first, so a deployment that keeps its runs
-- longer is never re-read by the others' batches.
CREATE OR REPLACE FUNCTION edgeflow.prune_runs(p_limit integer, p_retention_days integer)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  -- Two branches, each an ordered scan of runs_prunable that stops at the
  -- batch: an "or" of both conditions read all 927,000 index entries of
  -- 1,000,000 runs past retention to sort them (3.7 s a batch).
  with candidates as (
    select c.id
      from edgeflow.deployments d
     cross join lateral (
       select r.id from edgeflow.runs r
        where r.deployment_id = d.id
          and r.ended_at < edgeflow.now()
                           - pg_catalog.make_interval(days => coalesce(d.retention_days, p_retention_days))
          and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
          and not r.lazarus_due
          and not edgeflow._run_pinned(r.id, r.parent_task_id)
        order by r.ended_at
        limit p_limit) c
    union all
    (select r.id from edgeflow.runs r
      where r.deployment_id is null
        and r.ended_at < edgeflow.now() - pg_catalog.make_interval(days => p_retention_days)
          and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
          and not r.lazarus_due
          and not edgeflow._run_pinned(r.id, r.parent_task_id)
      order by r.ended_at
      limit p_limit)
  ), batch as (
    select id from candidates limit p_limit
  ), deleted as (
    delete from edgeflow.runs r using batch c
     where r.id = c.id
       -- Rechecked on the locked row: a run retried meanwhile is kept.
       and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') and not r.lazarus_due
    returning 1
  )
  select count(*)::int from deleted;
$function$;

-- from sql/functions/edgeflow.prune.sql
-- Retention, one bounded batch (from the maintenance pass): finished runs
-- past their retention (edgeflow.prune_runs), then the partitioned tables of
-- their history: day partitions ahead are made and emptied days dropped.
-- Partitioned run-keyed tables are listed here; a table of step logs
-- partitioned by range (run_created_at) the same way is pruned by adding its
-- name to v_tables.
CREATE OR REPLACE FUNCTION edgeflow.prune(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_tables text[] := array['events'];
  v_table text;
  v_runs integer := edgeflow.prune_runs(p_limit, p_retention_days);
  v_created integer := 0;
  v_dropped integer := 0;
begin
  foreach v_table in array v_tables loop
    v_created := v_created + edgeflow.ensure_partitions(v_table);
    v_dropped := v_dropped + edgeflow.drop_partitions(v_table);
  end loop;
  return jsonb_build_object('pruned_runs', v_runs, 'partitions_created', v_created,
                            'partitions_dropped', v_dropped);
end
$function$;

-- from sql/functions/edgeflow.maintenance.sql
-- The maintenance pass of the tick: the sweep, pruning of rate-limit windows,
-- then retention (edgeflow.prune; last, because dropping a partition locks
-- the events table until this transaction commits). Expired leases are
-- counted for /metrics.
CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  if (v_sweep ->> 'swept')::int > 0 then
    insert into edgeflow.maintenance_counters as m (name, value)
    values ('lease_expiries', (v_sweep ->> 'swept')::int)
    on conflict (name) do update set value = m.value + excluded.value;
  end if;
  v_sweep := v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
  return v_sweep || edgeflow.prune(p_limit, p_retention_days);
end
$function$;

-- from sql/functions/edgeflow.metrics.sql
-- What GET /metrics reports from the database, in one snapshot:
--   runs: [{status, count}] (all retained runs, by an index-only scan of runs_status_newest),
--   queues: [{pool, handler, queued, ready, oldest_seconds, served}] (QUEUED tasks through
--     tasks_live; oldest_seconds: age of the oldest task whose retry wait is over;
--     served: an online worker serves the handler, as waiting_for's no_worker),
--   workers: [{pool, online}] (heartbeat within 3 intervals, as _handler_online),
--   counters: {name: value} (edgeflow.maintenance_counters),
--   late: [{deployment, count}]: runs not started p_late_seconds after their
--     scheduled time (ad hoc and triggered runs: their creation), through runs_status_newest.
CREATE OR REPLACE FUNCTION edgeflow.metrics(p_late_seconds integer DEFAULT 60)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'runs', (select coalesce(jsonb_agg(jsonb_build_object('status', x.status, 'count', x.n)
                                       order by x.status), '[]')
               from (select r.status, count(*) as n from edgeflow.runs r group by r.status) x),
    'queues', (select coalesce(jsonb_agg(jsonb_build_object(
                 'pool', x.pool, 'handler', x.handler, 'queued', x.n, 'ready', x.ready,
                 'oldest_seconds', x.oldest,
                 'served', edgeflow._handler_online(x.pool, x.handler)) order by x.pool, x.handler), '[]')
               from (select h.pool, h.handler, count(*) as n,
                            count(*) filter (where t.available_at <= edgeflow.now()) as ready,
                            coalesce(extract(epoch from edgeflow.now() - min(t.available_at)
                                       filter (where t.available_at <= edgeflow.now())), 0) as oldest
                       from edgeflow.tasks t
                       join edgeflow.handler_queues h on h.queue_name = t.queue_name
                      where t.status = 'QUEUED'
                      group by h.pool, h.handler) x),
    'workers', (select coalesce(jsonb_agg(jsonb_build_object('pool', p.name, 'online', (
                   select count(*) from edgeflow.workers w
                    where w.pool = p.name
                      and w.last_heartbeat_at > edgeflow.now() - make_interval(secs => 3 * w.heartbeat_seconds)))
                 order by p.name), '[]')
                from edgeflow.pools p),
    'counters', (select coalesce(jsonb_object_agg(c.name, c.value), '{}')
                   from edgeflow.maintenance_counters c),
    'late', (select coalesce(jsonb_agg(jsonb_build_object('deployment', x.name, 'count', x.n)
                                       order by x.name), '[]')
               from (select d.name, count(*) as n
                       from edgeflow.runs r left join edgeflow.deployments d on d.id = r.deployment_id
                      where r.status in ('SCHEDULED', 'PENDING')
                        and coalesce(r.scheduled_time, r.created_at)
                            < edgeflow.now() - make_interval(secs => p_late_seconds)
                      group by d.name) x));
$function$;

-- from sql/functions/edgeflow.run_events.sql
-- A run's events after `p_after` (at most `p_limit`), its status, and
-- `last_id`: where the next read should resume. Read in one snapshot.
--
-- Ids are handed out at insert, not at commit: a claim (which takes no run
-- lock) and another transition of the same run can commit in the opposite
-- order of their ids, so an event may become visible just after a later one.
-- `last_id` therefore stops short of events younger than 5 s, which the next
-- read returns again (readers de-duplicate by id), unless the run is final
-- (its last transition held the run lock, so nothing of it is in flight) or
-- the page is full (a backlog is read through). Null when there is no run.
CREATE OR REPLACE FUNCTION edgeflow.run_events(p_run_id uuid, p_after bigint, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'events', coalesce(jsonb_agg(jsonb_build_object(
                'id', e.id, 'run_id', e.run_id, 'kind', e.kind, 'step', e.step, 'task', e.task,
                'attempt', e.attempt, 'from', e.from_status, 'to', e.to_status,
                'at', edgeflow.iso(e.at), 'error', e.error) order by e.id)
              filter (where e.id is not null), '[]'),
    'last_id', case
      when r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') or count(e.id) >= p_limit
        then coalesce(max(e.id), p_after)
      else coalesce(min(e.id) filter (where e.at > clock_timestamp() - interval '5 seconds') - 1,
                    max(e.id), p_after)
      end)
    from edgeflow.runs r
    left join lateral (
      select * from edgeflow.events ev
       where ev.run_id = r.id and ev.id > p_after
         and ev.run_created_at = r.created_at -- reads the run's day partition only
       order by ev.id limit p_limit) e on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;

-- from sql/functions/edgeflow.upsert_deployment.sql
-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
CREATE OR REPLACE FUNCTION edgeflow.upsert_deployment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.flows where name = p ->> 'flow') then
    return jsonb_build_object('error', 'unknown_flow', 'path', 'flow');
  end if;
  if jsonb_typeof(p -> 'version') = 'number' and not exists (
       select 1 from edgeflow.flow_versions
        where flow_name = p ->> 'flow' and version = (p ->> 'version')::int) then
    return jsonb_build_object('error', 'unknown_version', 'path', 'version');
  end if;
  if not exists (select 1 from edgeflow.pools where name = p ->> 'pool') then
    return jsonb_build_object('error', 'unknown_pool', 'path', 'pool');
  end if;
  insert into edgeflow.pool_queues (pool, name) values (p ->> 'pool', p ->> 'queue')
  on conflict do nothing;
  insert into edgeflow.deployments as d (name, flow_name, version_pin, pool, queue, description,
                                         parameters, tags, concurrency_limit, collision_strategy,
                                         paused, job_variables, retention_days)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'),
          (p ->> 'retention_days')::int)
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, retention_days = excluded.retention_days,
         updated_at = edgeflow.now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$function$;

-- from sql/triggers/runs.sql
-- The triggers on edgeflow.runs. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: runs_before_end → edgeflow._run_before_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))
--   2. after insert, for each row: events_run_insert → edgeflow._run_event()
--   3. after insert, for each row: runs_admit → edgeflow._run_admit() when (new.deployment_id IS NOT NULL)
--   4. after update, for each row: events_run_update → edgeflow._run_event() when (old.status IS DISTINCT FROM new.status)
--   5. after update, for each row: runs_after_child_end → edgeflow._subflow_child_end_trigger() when ((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   6. after update, for each row: runs_after_end → edgeflow._run_after_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   7. after update, for each row: runs_stop_children → edgeflow._subflow_parent_stopped() when ((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
CREATE OR REPLACE FUNCTION edgeflow._run_admit()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy into d
    from edgeflow.deployments where id = new.deployment_id;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, new.id, new.id);
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = edgeflow.now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$function$;

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
CREATE OR REPLACE FUNCTION edgeflow._run_after_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null and ('deployment:' || new.deployment_id) = any(v_freed) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$function$;

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
CREATE OR REPLACE FUNCTION edgeflow._run_before_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.awaiting_slot := null;
  if new.status = 'CRASHED' then
    if coalesce((select (fv.settings ->> 'lazarus')::boolean from edgeflow.flow_versions fv
                  where fv.id = new.flow_version_id), false) then
      if new.resurrections < 3 then
        new.lazarus_due := true;
      else
        new.error := coalesce(new.error, '{}') || jsonb_build_object(
          'resurrections', new.resurrections,
          'lazarus', 'gave up: the run crashed again after 3 resurrections');
      end if;
    end if;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._run_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error, run_created_at)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end, new.created_at);
  perform edgeflow._notify_event(new.id);
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._subflow_child_end_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$function$;

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
CREATE OR REPLACE FUNCTION edgeflow._subflow_parent_stopped()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select tk.id, tk.subflow_run_id from edgeflow.tasks tk
     where tk.run_id = new.id and tk.status = 'RUNNING' and tk.queue_name = 'ef_subflows'
     order by tk.task_index
       for update
  loop
    -- The task first: the child's end trigger then sees nothing to settle.
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = edgeflow.now()
     where id = t.id;
    perform 1 from edgeflow.runs where id = t.subflow_run_id for update skip locked;
    if found then
      perform edgeflow.cancel_run(t.subflow_run_id);
    end if;
  end loop;
  if found and new.status = 'CANCELLING' then
    -- Its subflow tasks were what kept it CANCELLING; worker tasks may remain.
    perform edgeflow._settle_cancelling(new.id);
  end if;
  return null;
end
$function$;

-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
CREATE OR REPLACE TRIGGER runs_before_end BEFORE UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))) EXECUTE FUNCTION edgeflow._run_before_end();

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
CREATE OR REPLACE TRIGGER events_run_insert AFTER INSERT ON edgeflow.runs FOR EACH ROW EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_admit AFTER INSERT ON edgeflow.runs FOR EACH ROW WHEN ((new.deployment_id IS NOT NULL)) EXECUTE FUNCTION edgeflow._run_admit();

CREATE OR REPLACE TRIGGER events_run_update AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_after_child_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._subflow_child_end_trigger();

CREATE OR REPLACE TRIGGER runs_after_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_after_end();

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();

-- from sql/triggers/step_states.sql
-- The triggers on edgeflow.step_states. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: events_step_update → edgeflow._step_event() when (old.status IS DISTINCT FROM new.status)

CREATE OR REPLACE FUNCTION edgeflow._step_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, step, from_status, to_status, error, run_created_at)
  values (new.run_id, 'step', new.slug, old.status, new.status,
          case when new.status = 'FAILED' then new.error end,
          -- The partition key of events (sql/schema/80_events.sql).
          (select r.created_at from edgeflow.runs r where r.id = new.run_id));
  perform edgeflow._notify_event(new.run_id);
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER events_step_update AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._step_event();

-- from sql/triggers/tasks.sql
-- The triggers on edgeflow.tasks. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: tasks_release_slots → edgeflow._task_release_slots() when (old.holds_slots AND (new.status IS DISTINCT FROM 'RUNNING'::text))
--   2. after update, for each row: events_task_update → edgeflow._task_event() when (old.status IS DISTINCT FROM new.status)

-- A task going RUNNING → QUEUED is a failed attempt waiting for its retry
-- (or a lost lease): its error belongs to the event, like a final FAILED.
CREATE OR REPLACE FUNCTION edgeflow._task_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status, error,
                              run_created_at)
  values (new.run_id, 'task', new.slug, new.id, new.attempts, old.status, new.status,
          case when new.status = 'FAILED' or (old.status = 'RUNNING' and new.status = 'QUEUED')
               then new.error end,
          -- The partition key of events (sql/schema/80_events.sql).
          (select r.created_at from edgeflow.runs r where r.id = new.run_id));
  perform edgeflow._notify_event(new.run_id);
  return null;
end
$function$;

-- A task leaving RUNNING (completed, failed, retried, expired, cancelled)
-- gives its slots back.
CREATE OR REPLACE FUNCTION edgeflow._task_release_slots()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  delete from edgeflow.slots where holder = new.id;
  new.holds_slots := false;
  return new;
end
$function$;

CREATE OR REPLACE TRIGGER tasks_release_slots BEFORE UPDATE OF status ON edgeflow.tasks FOR EACH ROW WHEN ((old.holds_slots AND (new.status IS DISTINCT FROM 'RUNNING'::text))) EXECUTE FUNCTION edgeflow._task_release_slots();

CREATE OR REPLACE TRIGGER events_task_update AFTER UPDATE OF status ON edgeflow.tasks FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._task_event();

drop function if exists edgeflow.maintenance(p_limit integer);

-- Day partitions for the copied events and the days ahead.
select edgeflow.ensure_partitions('events');
