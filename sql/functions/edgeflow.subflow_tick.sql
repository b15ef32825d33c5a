CREATE OR REPLACE FUNCTION edgeflow.subflow_tick(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  m record;
  t record;
  v_run text;
  v_id uuid;
  v_started integer := 0;
  v_orphans integer := 0;
begin
  for m in select * from pgmq.read('ef_subflows', 30, p_limit) loop
    select status into v_run from edgeflow.runs
     where id = (m.message ->> 'run')::uuid for update skip locked;
    if not found then
      if exists (select 1 from edgeflow.runs where id = (m.message ->> 'run')::uuid) then
        perform pgmq.set_vt('ef_subflows', m.msg_id, 1);  -- busy: next tick
      else
        perform pgmq.delete('ef_subflows', m.msg_id);
      end if;
      continue;
    end if;
    select id, status, msg_id, available_at into t from edgeflow.tasks
     where id = (m.message ->> 'task')::uuid for update;
    if t.id is null or t.status <> 'QUEUED' or t.msg_id is distinct from m.msg_id then
      perform pgmq.delete('ef_subflows', m.msg_id);  -- stale: the task moved on
      continue;
    end if;
    if v_run not in ('PENDING', 'RUNNING') then
      -- Scheduled (its time not come) or over: the engine's own paths decide.
      perform pgmq.set_vt('ef_subflows', m.msg_id,
                          greatest(edgeflow.delay_seconds(t.available_at), 1));
      continue;
    end if;
    if t.available_at > now() then
      perform pgmq.set_vt('ef_subflows', m.msg_id, edgeflow.delay_seconds(t.available_at));
      continue;
    end if;
    perform pgmq.delete('ef_subflows', m.msg_id);
    perform edgeflow._start_subflow_task(t.id);
    v_started := v_started + 1;
  end loop;

  for v_id in
    select c.id from edgeflow.runs c
      join edgeflow.tasks pt on pt.id = c.parent_task_id
     where c.parent_task_id is not null
       and c.status in ('SCHEDULED', 'PENDING', 'RUNNING')
       and pt.queue_name = 'ef_subflows'
       and (pt.status <> 'RUNNING' or pt.subflow_run_id is distinct from c.id)
     order by c.created_at limit p_limit
       for update of c skip locked
  loop
    perform edgeflow.cancel_run(v_id);
    v_orphans := v_orphans + 1;
  end loop;

  return jsonb_build_object('started', v_started, 'orphans_cancelled', v_orphans);
end
$function$;
