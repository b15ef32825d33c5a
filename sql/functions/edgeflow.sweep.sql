-- The whole sweep with its full report. `p_limit` bounds the expired leases
-- handled per pass (oldest first); the run passes have their own bounds.
CREATE OR REPLACE FUNCTION edgeflow.sweep(p_limit integer DEFAULT 1000)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_counts jsonb;
  v_settled integer := 0;
  v_crashed integer := 0;
  v_resurrected integer := 0;
  v_admitted integer := 0;
  v_cursor record;
  v_seen integer;
  v_at timestamptz;
  v_idle boolean;
begin
  v_counts := edgeflow._expire_leases(p_limit);

  for v_id in
    select r.id from edgeflow.runs r
     where r.status = 'CANCELLING'
       and not exists (select 1 from edgeflow.tasks t where t.run_id = r.id and t.status = 'RUNNING')
     order by r.created_at limit 100
       for update skip locked
  loop
    perform edgeflow._settle_cancelling(v_id);
    v_settled := v_settled + 1;
  end loop;

  -- Round robin over RUNNING runs, newest first, wrapping around at the
  -- end. A sweep racing this one skips the pass (skip locked).
  select created_at, run_id into v_cursor from edgeflow.sweep_cursor for update skip locked;
  if found then
    v_seen := 0;
    for v_at, v_id, v_idle in
      -- A probe of tasks_live per run, never a join over all tasks.
      select r.created_at, r.id, live.id is null
        from (select created_at, id from edgeflow.runs
               where status = 'RUNNING'
                 and (v_cursor.created_at is null
                      or (created_at, id) < (v_cursor.created_at, v_cursor.run_id))
               order by created_at desc, id desc limit 100) r
        left join lateral (select t.id from edgeflow.tasks t
                            where t.run_id = r.id and t.status in ('QUEUED', 'RUNNING')
                            limit 1) live on true
    loop
      v_seen := v_seen + 1;
      if v_idle and edgeflow._crash_if_idle(v_id) then
        v_crashed := v_crashed + 1;
      end if;
    end loop;
    update edgeflow.sweep_cursor
       set created_at = case when v_seen = 100 then v_at end,
           run_id = case when v_seen = 100 then v_id end
     where id;
  end if;

  for v_id in
    select id from edgeflow.runs where lazarus_due order by ended_at limit 100
  loop
    if edgeflow._resurrect(v_id) = 'resurrected' then
      v_resurrected := v_resurrected + 1;
    end if;
  end loop;

  for v_id in
    select distinct r.deployment_id from edgeflow.runs r
     where r.awaiting_slot is not null and r.deployment_id is not null
     limit 100
  loop
    v_admitted := v_admitted + edgeflow._admit_waiting(v_id);
  end loop;

  return v_counts || jsonb_build_object(
    'swept', (v_counts ->> 'requeued')::int + (v_counts ->> 'failed')::int
             + (v_counts ->> 'cancelled')::int,
    'settled', v_settled, 'crashed', v_crashed, 'resurrected', v_resurrected,
    'admitted', v_admitted);
end
$function$;
