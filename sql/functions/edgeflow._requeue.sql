-- Make a task's message visible at `p_at`; re-send it if it is gone.
CREATE OR REPLACE FUNCTION edgeflow._requeue(p_task_id uuid, p_at timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  select id, run_id, queue_name, msg_id into t from edgeflow.tasks where id = p_task_id;
  if not exists (select 1 from pgmq.set_vt(t.queue_name, t.msg_id, edgeflow.delay_seconds(p_at)))
  then
    update edgeflow.tasks
       set msg_id = (select pgmq.send(t.queue_name,
                                      jsonb_build_object('task', t.id, 'run', t.run_id),
                                      edgeflow.delay_seconds(p_at)))
     where id = p_task_id;
  end if;
end
$function$;
