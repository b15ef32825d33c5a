-- A lease ran out on the task's last attempt: the step fails and the run is
-- CRASHED (nothing is left that could finish it).
CREATE OR REPLACE FUNCTION edgeflow._expire_final(p_task_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_error jsonb;
begin
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  v_error := jsonb_build_object(
    'message', format('lease expired on attempt %s of %s: the worker stopped heartbeating',
                      t.attempts, t.max_attempts),
    'crashed', true);
  perform pgmq.archive(t.queue_name, t.msg_id);
  update edgeflow.tasks set status = 'FAILED', error = v_error, lease = null,
                            lease_expires_at = null, ended_at = edgeflow.now()
   where id = p_task_id;
  update edgeflow.step_states set status = 'FAILED', error = v_error, ended_at = edgeflow.now()
   where run_id = t.run_id and slug = t.slug;
  perform edgeflow._finish_run(t.run_id, 'CRASHED', jsonb_build_object('step', t.slug) || v_error);
end
$function$;
