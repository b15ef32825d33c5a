-- Extend the leases a worker still holds. Returns the tasks whose lease is
-- no longer the worker's (`lost`) and those of runs being cancelled
-- (`cancel`). A lease is extended only once less than half of it is left,
-- which halves the writes of a steady heartbeat.
CREATE OR REPLACE FUNCTION edgeflow.extend_leases(p_running jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  i record;
  v_lost jsonb := '[]';
  v_cancel jsonb := '[]';
  v_extended integer := 0;
begin
  for i in
    select e.task, e.lease, t.status, t.lease = e.lease as current, t.lease_expires_at,
           t.queue_name, t.msg_id, r.status as run_status, fs.timeout
      from jsonb_to_recordset(coalesce(p_running, '[]')) as e(task uuid, lease uuid)
      left join edgeflow.tasks t on t.id = e.task
      left join edgeflow.runs r on r.id = t.run_id
      left join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id
                                       and fs.slug = t.slug
  loop
    if i.status is distinct from 'RUNNING' or not coalesce(i.current, false) then
      v_lost := v_lost || to_jsonb(i.task::text);
    elsif i.run_status not in ('RUNNING', 'PENDING') then
      v_cancel := v_cancel || to_jsonb(i.task::text);
    elsif i.lease_expires_at is not null
          and i.lease_expires_at < edgeflow.now() + make_interval(secs => i.timeout / 2.0) then
      update edgeflow.tasks set lease_expires_at = edgeflow.now() + make_interval(secs => i.timeout)
       where id = i.task and lease = i.lease and status = 'RUNNING';
      if found then
        perform pgmq.set_vt(i.queue_name, i.msg_id, i.timeout);
        v_extended := v_extended + 1;
      else
        v_lost := v_lost || to_jsonb(i.task::text);
      end if;
    end if;
  end loop;
  return jsonb_build_object('lost', v_lost, 'cancel', v_cancel, 'extended', v_extended);
end
$function$;
