-- Rewrite the engine's four pgmq calls (edgeflow._mq_read, _mq_delete,
-- _mq_send, _mq_set_vt) with one static statement per handler queue, pgmq's
-- own function as the fallback for any other queue. Called where a handler
-- queue is made (edgeflow.ensure_handler_queue) and by every tick
-- (edgeflow.maintenance).
--
-- Never waited for (migration 0273): the lock `edgeflow.queue:compile` is
-- only tried, so two sessions never replace a function at once, and a
-- completion that makes a queue while another transaction compiles goes on
-- without it. Until 0273 making any queue waited for one lock held to commit,
-- taken in the middle of completions that already held runs and slots: two
-- transactions making different new queues deadlocked over their slot locks
-- (reproduced with two sessions), and a long one held every other queue's
-- first message back (2 s in the same test). (On the real pgmq extension
-- making a queue is serialised by Postgres whatever this does: see
-- ensure_handler_queue.) A queue made meanwhile, or by a
-- transaction whose snapshot is older than another's new queue (repeatable
-- read), gets its branch from the next tick or the next queue. A function
-- whose body would not change is not replaced, so a tick with nothing new
-- costs every backend nothing (a replaced function is compiled again by
-- every session that calls it). A migration that changes these functions
-- takes the lock first and calls this at its end (tools/sql/generate.ts
-- writes both).
--
-- Why: every pgmq call builds its statement with format() and runs it by
-- EXECUTE, which parses and plans it anew on every call; a static statement
-- in plpgsql is planned once per session. Figure that decided it (pgbench,
-- one client, an empty queue on the real 1.5.1 extension, docs/hotpath.md
-- "Session 11"): pgmq.read 187-493 µs a call against 30-64 µs for the
-- statement it builds, sent as is; pg_stat_user_functions over one-task
-- chains (tests/bench/fn_profile.ts --batch 1, session 12): the three pgmq
-- calls of a step took 708 of its 3,386 µs of SQL.
--
-- The statements are those of both pgmq implementations (ours and the 1.5.1
-- extension have the same queue tables). The read takes its messages' ids
-- into an array and updates by `msg_id = any(…)`, not by a join on a CTE as
-- pgmq does: a static statement is planned generically after five calls, and
-- the generic plan of the join (LIMIT p_qty estimated at 50 rows) was a hash
-- join over a sequential scan of the whole queue table (EXPLAIN, 1,500
-- visible messages; migration 0269), while the array's is two primary-key
-- index scans whatever p_qty is. At most 64 queues get a branch (a
-- CASE tests them in turn), the first 64 made (their tables' oids), so a new
-- queue never takes a branch from an older one; the others, and a queue whose
-- table is gone, go through pgmq. A role that may not replace these functions
-- (not their owner) keeps them as they are: the fallback is always correct.
-- Any other failure of the rewrite (a migration replacing them without the
-- lock: "tuple concurrently updated") is a warning in the server's log, never
-- the caller's error.
CREATE OR REPLACE FUNCTION edgeflow._mq_compile()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  f record;
  v_read text := '';
  v_delete text := '';
  v_send text := '';
  v_set_vt text := '';
  v_body text;
  v_n integer := 0;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('edgeflow.queue:compile')) then
    return;  -- another transaction rewrites them now
  end if;
  if not exists (select 1 from pg_catalog.pg_proc p
                  where p.oid = 'edgeflow._mq_read(text, integer, integer)'::pg_catalog.regprocedure
                    and pg_catalog.pg_has_role(p.proowner, 'MEMBER')) then
    return;  -- not their owner: the fallback bodies stay, and stay correct
  end if;
  for q in
    select h.queue_name, c.relname as tbl
      from edgeflow.handler_queues h
      join pg_catalog.pg_class c on c.relname = 'q_' || h.queue_name and c.relkind in ('r', 'p')
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = 'pgmq'
     where h.queue_name ~ '^[a-z0-9_]+$'
     order by c.oid
     limit 64
  loop
    v_n := v_n + 1;
    v_read := v_read || format(
      E'\n    when %L then\n'
      '      return query update pgmq.%I m\n'
      '         set vt = clock_timestamp() + make_interval(secs => p_vt), read_ct = m.read_ct + 1\n'
      '       where m.msg_id = any(array(\n'
      '               select p.msg_id from pgmq.%2$I p where p.vt <= clock_timestamp()\n'
      '                order by p.msg_id limit p_qty for update skip locked))\n'
      '      returning m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers;',
      q.queue_name, q.tbl);
    v_delete := v_delete || format(
      E'\n    when %L then\n'
      '      return query delete from pgmq.%I m where m.msg_id = any(p_ids) returning m.msg_id;',
      q.queue_name, q.tbl);
    v_send := v_send || format(
      E'\n    when %L then\n'
      '      return query insert into pgmq.%I (vt, message)\n'
      '        select p_vt, x.msg from unnest(p_msgs) with ordinality as x(msg, ord) order by x.ord\n'
      '        returning msg_id;',
      q.queue_name, q.tbl);
    v_set_vt := v_set_vt || format(
      E'\n    when %L then\n'
      '      update pgmq.%I m set vt = clock_timestamp() + make_interval(secs => p_vt)\n'
      '       where m.msg_id = p_id;',
      q.queue_name, q.tbl);
  end loop;
  if v_n = 0 then
    return;
  end if;
  -- The four functions, each its branches and, for any other queue, pgmq's own call.
  -- The delete's plan is generic: with its array as a parameter, the custom
  -- plan of a one-id delete (the single completion's) always priced below the
  -- generic one (`= any` estimated at 10 ids), so the plan cache planned it
  -- again on every call. Figure that decided it (migration 0272): one plan
  -- per call in pg_stat_statements (track_planning, 8.5 µs each, one-task
  -- chains), none after; 20,000 one-id deletes in a DO loop, 9.6-11.5 µs a
  -- call before, 5.1-5.5 µs after.
  for f in
    select * from (values
      ('_mq_read(p_queue text, p_vt integer, p_qty integer)', '_mq_read(text, integer, integer)',
       'SETOF pgmq.message_record', '', v_read,
       'return query select * from pgmq.read(p_queue, p_vt, p_qty);'),
      ('_mq_delete(p_queue text, p_ids bigint[])', '_mq_delete(text, bigint[])', 'SETOF bigint',
       E'\n SET plan_cache_mode TO ''force_generic_plan''', v_delete,
       'return query select * from pgmq.delete(p_queue, p_ids);'),
      ('_mq_send(p_queue text, p_msgs jsonb[], p_vt timestamp with time zone)',
       '_mq_send(text, jsonb[], timestamp with time zone)', 'SETOF bigint', '', v_send,
       'return query select * from pgmq.send_batch(p_queue, p_msgs, null::jsonb[], p_vt);'),
      ('_mq_set_vt(p_queue text, p_id bigint, p_vt integer)', '_mq_set_vt(text, bigint, integer)',
       'void', '', v_set_vt, 'perform pgmq.set_vt(p_queue, p_id, p_vt);')
    ) as x(head, sig, returns, settings, branches, fallback)
  loop
    v_body := format(E'\nbegin\n  case p_queue%s\n    else\n      %s\n  end case;\nend\n',
                     f.branches, f.fallback);
    -- The same body and settings already: nothing to replace.
    continue when exists (
      select 1 from pg_catalog.pg_proc p
       where p.oid = pg_catalog.to_regprocedure('edgeflow.' || f.sig)
         and p.prosrc = v_body
         and coalesce(p.proconfig, '{}') = case when f.settings = '' then '{}'::text[]
                                                else '{plan_cache_mode=force_generic_plan}' end);
    execute format(
      $ddl$CREATE OR REPLACE FUNCTION edgeflow.%s
 RETURNS %s
 LANGUAGE plpgsql%s
AS $body$%s$body$$ddl$, f.head, f.returns, f.settings, v_body);
  end loop;
exception when others then
  -- The fallback bodies are always correct: a failed rewrite keeps them
  -- (or the last good rewrite) and never fails the caller.
  raise warning 'edgeflow._mq_compile: the static pgmq calls were not rewritten: %', sqlerrm;
end
$function$;
