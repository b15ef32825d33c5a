-- Expire up to `p_limit` leases, oldest first. Why one statement for the
-- batch and not 0007's loop: per task, the loop cost ~300 µs (five
-- statements, two locks, a pgmq call), so a tick over 1,000 expired leases
-- took ~0.5 s; the set-based update is bounded by the row writes. The
-- lock order of 0006 holds: the batch's runs first (in id order, so two
-- sweeps cannot deadlock), then its tasks with skip locked.
--
-- The message is not touched: a lease and its message's visibility timeout
-- are set together (claim, extend_leases), so when the lease has expired the
-- message is already visible. Only a message that is missing (a purged
-- queue) or still invisible is repaired, found with one query per queue.
CREATE OR REPLACE FUNCTION edgeflow._expire_leases(p_limit integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_ids uuid[];
  v_runs uuid[];
  v_done uuid[];
  v_queue text;
  v_queues text[];
  v_msgs bigint[];
  v_fix uuid[];
  v_id uuid;
  v_result text;
  v_counts jsonb := '{"requeued":0,"failed":0,"cancelled":0}';
begin
  select array_agg(e.id), array_agg(distinct e.run_id) into v_ids, v_runs
    from (select id, run_id from edgeflow.tasks
           where status = 'RUNNING' and lease_expires_at < edgeflow.now()
           order by lease_expires_at limit p_limit) e;
  if v_ids is null then
    return v_counts;
  end if;
  perform 1 from edgeflow.runs where id = any(v_runs) order by id for update;

  with locked as (
    select t.id from edgeflow.tasks t
      join edgeflow.runs r on r.id = t.run_id
     where t.id = any(v_ids) and t.status = 'RUNNING' and t.lease_expires_at < edgeflow.now()
       and t.attempts < t.max_attempts and r.status in ('RUNNING', 'PENDING')
       for update of t skip locked
  ), requeued as (
    update edgeflow.tasks t
       set status = 'QUEUED', lease = null, lease_expires_at = null, available_at = edgeflow.now(),
           error = jsonb_build_object('message', format(
             'lease expired on attempt %s: the worker stopped heartbeating', t.attempts),
             'crashed', true)
      from locked where t.id = locked.id
    returning t.id, t.queue_name, t.msg_id
  )
  select coalesce(array_agg(id), '{}'), coalesce(array_agg(queue_name), '{}'),
         coalesce(array_agg(msg_id), '{}')
    into v_done, v_queues, v_msgs
    from requeued;

  for v_queue in select distinct q from unnest(v_queues) as q loop
    -- Tasks whose message is gone or not yet visible (identifiers: pgmq's own naming).
    execute format(
      'select coalesce(array_agg(x.id), ''{}'') from unnest($1, $2, $3) as x(q, msg, id)
        where x.q = $4 and not exists (select 1 from pgmq.%I m
                                        where m.msg_id = x.msg and m.vt <= clock_timestamp())',
      pgmq.format_table_name(v_queue, 'q'))
      into v_fix using v_queues, v_msgs, v_done, v_queue;
    foreach v_id in array v_fix loop
      perform edgeflow._requeue(v_id, edgeflow.now());
    end loop;
  end loop;
  v_counts := jsonb_build_object('requeued', cardinality(v_done), 'failed', 0, 'cancelled', 0);

  -- The rest: last attempts, runs no longer running, tasks taken meanwhile.
  for v_id in select unnest(v_ids) except select unnest(v_done) loop
    v_result := edgeflow._expire_task(v_id);
    if v_result <> 'skipped' then
      v_counts := jsonb_set(v_counts, array[v_result], to_jsonb((v_counts ->> v_result)::int + 1));
    end if;
  end loop;
  return v_counts;
end
$function$;
