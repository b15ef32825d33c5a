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
