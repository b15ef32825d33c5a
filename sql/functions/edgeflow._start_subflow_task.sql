-- Start the child run of one QUEUED subflow task. The caller holds the
-- parent run's row lock. Returns 'started' or 'failed' (the run failed).
CREATE OR REPLACE FUNCTION edgeflow._start_subflow_task(p_task_id uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_run uuid;
begin
  select run_id into v_run from edgeflow.tasks where id = p_task_id;
  update edgeflow.tasks
     set msg_id = (select pgmq.send('ef_subflows',
                                    jsonb_build_object('task', p_task_id, 'run', v_run), 0))
   where id = p_task_id;
  perform pg_catalog.set_config('edgeflow.subflows_due', 'on', true);
  return 'due';
end
$function$;
