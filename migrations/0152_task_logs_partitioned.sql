-- task_logs_partitioned (issue 15): log lines are partitioned by their run's
-- creation day like the events, so retention drops them with the events
-- (edgeflow.maintain_partitions) instead of leaving them behind: until now
-- edgeflow.prune_runs deleted a run and kept its lines. Written by `deno task
-- sql:migration` from what changed in sql/, the table's conversion by hand.

-- A table cannot be turned into a partitioned one: the old one is renamed,
-- copied into the new one and dropped. Lines of runs already pruned are not
-- copied (nothing reads them: run_logs starts from the run). The rows land
-- in the DEFAULT partition; edgeflow.maintain_partitions (last statement
-- here) moves them into day partitions.
alter table edgeflow.task_logs rename to task_logs_v1;
alter table edgeflow.task_logs_v1 rename constraint task_logs_pkey to task_logs_v1_pkey;
alter table edgeflow.task_logs_v1 rename constraint task_logs_level_check to task_logs_v1_level_check;
alter index edgeflow.task_logs_run rename to task_logs_v1_run;
alter sequence edgeflow.task_logs_id_seq rename to task_logs_v1_id_seq;

create table edgeflow.task_logs (
  id bigint generated always as identity not null,
  at timestamp with time zone not null,
  run_id uuid not null,
  step text not null,
  task_id uuid not null,
  attempt integer not null,
  level text not null,
  message text not null,
  fields jsonb,
  run_created_at timestamp with time zone not null,
  constraint task_logs_pkey PRIMARY KEY (id, run_created_at),
  constraint task_logs_level_check CHECK ((level = ANY (ARRAY['debug'::text, 'info'::text, 'warn'::text, 'error'::text])))
) partition by range (run_created_at);
-- A run's lines after a given id: the only read (JSON pages, SSE resumption).
CREATE INDEX task_logs_run ON edgeflow.task_logs USING btree (run_id, id);
create table edgeflow.task_logs_default partition of edgeflow.task_logs default;

insert into edgeflow.task_logs (id, at, run_id, step, task_id, attempt, level, message, fields,
                                run_created_at) overriding system value
select l.id, l.at, l.run_id, l.step, l.task_id, l.attempt, l.level, l.message, l.fields,
       r.created_at
  from edgeflow.task_logs_v1 l join edgeflow.runs r on r.id = l.run_id;
select pg_catalog.setval(pg_catalog.pg_get_serial_sequence('edgeflow.task_logs', 'id'),
                         coalesce((select max(id) from edgeflow.task_logs_v1), 0) + 1, false);
drop table edgeflow.task_logs_v1;

-- from sql/functions/edgeflow.append_task_logs.sql
-- Store log lines a worker shipped for a task, fenced by the task's lease:
-- only the current lease of a RUNNING task may log ({"error":"stale_lease"}
-- otherwise, and nothing is stored). `p_lines` is a JSON array of
-- {"level","message","fields"}; `p_dropped` counts lines the worker itself
-- had to drop (its buffer was full). Returns {"accepted","dropped",
-- "dropped_total","lines_total"}.
--
-- Bounds per task, all attempts together: 10,000 lines, 4 MiB (message plus
-- fields), and a token bucket of 1,000 lines refilled at 100 lines/s. 100
-- lines/s is a chatty loop; 10,000 lines of ~400 B is a page a reader can
-- still scroll, and a map step of 1,000 such tasks stays at 4 GB worst case
-- rather than unbounded. A message is cut at 8 KiB and fields over 8 KiB are
-- replaced by {"truncated": <bytes>}. Lines over a bound are counted in
-- task_log_stats.dropped, never silently lost.
--
-- Lines of one run are written one transaction at a time (an advisory lock
-- per run, taken before any id is drawn), so a run's ids become visible in
-- id order and a reader resuming after id N cannot miss a line committed
-- later with a smaller id (run_events needs a 5 s margin for that; this
-- does not). Without the lock a reader following six tasks that logged at
-- once missed 40 of 600 lines (tests/api/logs_test.ts, 3 runs of 3); with it
-- eight tasks of one run appending in parallel took 8.6 ms a call against
-- 9.9 ms one at a time (10 lines a call, a loaded 2-core machine): the
-- serialisation costs the insert itself, not the round trip.
CREATE OR REPLACE FUNCTION edgeflow.append_task_logs(p_task_id uuid, p_lease uuid, p_lines jsonb, p_dropped integer DEFAULT 0)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  c_max_lines constant integer := 10000;
  c_max_bytes constant bigint := 4 * 1024 * 1024;
  c_burst constant double precision := 1000;
  c_rate constant double precision := 100;
  c_max_text constant integer := 8192;
  t record;
  st record;
  v_now timestamptz := edgeflow.now();
  v_tokens double precision;
  v_given integer := coalesce(jsonb_array_length(p_lines), 0);
  v_accepted integer;
  v_bytes bigint;
  v_dropped integer;
begin
  -- The run's creation: the partition key of task_logs.
  select tk.id, tk.run_id, tk.slug, tk.attempts, tk.status, tk.lease, r.created_at as run_created_at
    into t
    from edgeflow.tasks tk join edgeflow.runs r on r.id = tk.run_id where tk.id = p_task_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if t.status <> 'RUNNING' or t.lease is distinct from p_lease then
    return jsonb_build_object('error', 'stale_lease');
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.logs:' || t.run_id));

  insert into edgeflow.task_log_stats (task_id, run_id, tokens, tokens_at)
  values (t.id, t.run_id, c_burst, v_now)
  on conflict (task_id) do nothing;
  select * into st from edgeflow.task_log_stats where task_id = t.id for update;
  v_tokens := least(c_burst, st.tokens + c_rate * greatest(0, extract(epoch from v_now - st.tokens_at)));

  -- The accepted lines are a prefix: every bound grows with the line number.
  with given as (
    select l.ord,
           case when l.v ->> 'level' in ('debug', 'info', 'warn', 'error')
                then l.v ->> 'level' else 'info' end as level,
           left(coalesce(l.v ->> 'message', ''), c_max_text) as message,
           case when jsonb_typeof(l.v -> 'fields') <> 'object' then null
                when octet_length((l.v -> 'fields')::text) > c_max_text
                  then jsonb_build_object('truncated', octet_length((l.v -> 'fields')::text))
                else l.v -> 'fields' end as fields
      from jsonb_array_elements(case when jsonb_typeof(p_lines) = 'array' then p_lines
                                     else '[]' end) with ordinality as l(v, ord)
  ), sized as (
    select g.*, sum(octet_length(g.message) + coalesce(octet_length(g.fields::text), 0))
                  over (order by g.ord) as cum_bytes
      from given g
  ), kept as (
    select * from sized s
     where s.ord <= floor(v_tokens)
       and st.lines + s.ord <= c_max_lines
       and st.bytes + s.cum_bytes <= c_max_bytes
  ), ins as (
    insert into edgeflow.task_logs (at, run_id, step, task_id, attempt, level, message, fields,
                                    run_created_at)
    select v_now, t.run_id, t.slug, t.id, t.attempts, k.level, k.message, k.fields,
           t.run_created_at
      from kept k order by k.ord
    returning 1
  )
  select (select count(*) from ins), coalesce((select max(k.cum_bytes) from kept k), 0)
    into v_accepted, v_bytes;

  v_dropped := v_given - v_accepted + greatest(coalesce(p_dropped, 0), 0);
  update edgeflow.task_log_stats
     set lines = lines + v_accepted, bytes = bytes + v_bytes, dropped = dropped + v_dropped,
         tokens = v_tokens - v_accepted, tokens_at = v_now
   where task_id = t.id
  returning * into st;
  return jsonb_build_object('accepted', v_accepted, 'dropped', v_dropped,
                            'dropped_total', st.dropped, 'lines_total', st.lines);
end
$function$;

-- from sql/functions/edgeflow.maintain_partitions.sql
-- The partitioned tables of run history (edgeflow.events and, since issue
-- 15's log retention, edgeflow.task_logs): day partitions ahead are made and
-- emptied past days dropped (edgeflow.ensure_partitions, drop_partitions).
-- Partition DDL locks the parent table until the transaction ends, so the
-- ticks call this last, in a statement of its own over HTTP and at the end
-- of edgeflow.tick(): run from the maintenance pass, before the schedules,
-- two racing pg_cron ticks deadlocked (one held the lock on edgeflow.events
-- and waited for a schedule row that the other held while writing events).
-- A run-keyed table partitioned by range (run_created_at) the same way is
-- kept by adding its name to v_tables.
CREATE OR REPLACE FUNCTION edgeflow.maintain_partitions()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_tables text[] := array['events', 'task_logs'];
  v_table text;
  v_created integer := 0;
  v_dropped integer := 0;
begin
  foreach v_table in array v_tables loop
    v_created := v_created + edgeflow.ensure_partitions(v_table);
    v_dropped := v_dropped + edgeflow.drop_partitions(v_table);
  end loop;
  return jsonb_build_object('partitions_created', v_created, 'partitions_dropped', v_dropped);
end
$function$;

-- from sql/functions/edgeflow.run_logs.sql
-- A run's log lines after id `p_after` (at most `p_limit`), optionally only
-- of step `p_step`, task `p_task`, and level `p_level` or above (debug <
-- info < warn < error); the run's status; `last_id`, where the next read
-- resumes; and per task the lines dropped over its bounds. Read in one
-- snapshot. Unlike run_events no margin is needed at the live edge:
-- append_task_logs writes a run's lines one transaction at a time, so they
-- become visible in id order. Null when there is no run.
CREATE OR REPLACE FUNCTION edgeflow.run_logs(p_run_id uuid, p_after bigint, p_limit integer, p_step text DEFAULT NULL::text, p_task uuid DEFAULT NULL::uuid, p_level text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with levels(level, rank) as (
    values ('debug', 0), ('info', 1), ('warn', 2), ('error', 3)
  )
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'logs', coalesce(jsonb_agg(jsonb_build_object(
              'id', l.id, 'at', edgeflow.iso(l.at), 'step', l.step, 'task', l.task_id,
              'attempt', l.attempt, 'level', l.level, 'message', l.message,
              'fields', l.fields) order by l.id)
            filter (where l.id is not null), '[]'),
    'last_id', coalesce(max(l.id), p_after),
    'dropped', (
      select coalesce(jsonb_agg(jsonb_build_object('task', s.task_id, 'step', tk.slug,
                                                   'dropped', s.dropped) order by s.task_id),
                      '[]')
        from edgeflow.task_log_stats s
        join edgeflow.tasks tk on tk.id = s.task_id
       where s.run_id = r.id and s.dropped > 0
         and (p_step is null or tk.slug = p_step) and (p_task is null or s.task_id = p_task)))
    from edgeflow.runs r
    left join lateral (
      select * from edgeflow.task_logs tl
       where tl.run_id = r.id and tl.id > p_after
         and tl.run_created_at = r.created_at -- reads the run's day partition only
         and (p_step is null or tl.step = p_step)
         and (p_task is null or tl.task_id = p_task)
         and (p_level is null
              or (select rank from levels where level = tl.level)
                 >= (select rank from levels where level = p_level))
       order by tl.id limit p_limit) l on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;

select edgeflow.maintain_partitions();
