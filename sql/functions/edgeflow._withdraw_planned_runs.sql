-- Withdraw the planned runs of schedules `p_ids`: runs whose fire time is
-- after `p_after`, that have not started (SCHEDULED or PENDING, every task
-- still QUEUED). They are deleted with their queued messages and slots, as
-- Prefect deletes the auto-scheduled runs of a changed deployment; a freed
-- deployment slot goes to the next waiting run. Returns {schedule id:
-- earliest withdrawn fire time} for the schedules that had any.
CREATE OR REPLACE FUNCTION edgeflow._withdraw_planned_runs(p_ids uuid[], p_after timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_sid uuid;
  r record;
  t record;
  v_first jsonb := '{}';
  v_deployments uuid[] := '{}';
  v_freed boolean;
begin
  foreach v_sid in array coalesce(p_ids, '{}') loop
    for r in
      select id, deployment_id, scheduled_time, status from edgeflow.runs
       where idempotency_scope = 'schedule:' || v_sid and idempotency_key is not null
         and scheduled_time > p_after and status in ('SCHEDULED', 'PENDING')
       order by scheduled_time
         for update
    loop
      -- Re-checked under the run's lock: a claim may have just started it.
      continue when r.status not in ('SCHEDULED', 'PENDING')
        or exists (select 1 from edgeflow.tasks where run_id = r.id and status <> 'QUEUED');
      for t in select queue_name, msg_id from edgeflow.tasks
                where run_id = r.id and msg_id is not null loop
        perform pgmq.delete(t.queue_name, t.msg_id);
      end loop;
      with gone as (delete from edgeflow.slots where run_id = r.id returning limit_key)
      select coalesce(bool_or(limit_key = 'deployment:' || r.deployment_id), false)
        into v_freed from gone;
      if v_freed and not r.deployment_id = any(v_deployments) then
        v_deployments := v_deployments || r.deployment_id;
      end if;
      delete from edgeflow.runs where id = r.id;
      if not v_first ? v_sid::text then
        v_first := v_first || jsonb_build_object(v_sid::text, edgeflow.iso(r.scheduled_time));
      end if;
    end loop;
  end loop;
  foreach v_sid in array v_deployments loop
    perform edgeflow._admit_waiting(v_sid);
  end loop;
  return v_first;
end
$function$;
