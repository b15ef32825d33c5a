-- Fail a subflow task that could not start a child (bad deployment, missing
-- parameters): the step and the run fail, not retried, because the next
-- attempt would meet the same deployment and the same parameters.
CREATE OR REPLACE FUNCTION edgeflow._subflow_refuse(p_task_id uuid, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  select id, run_id, slug into t from edgeflow.tasks where id = p_task_id;
  update edgeflow.tasks
     set status = 'FAILED', attempts = attempts + 1, error = p_error, msg_id = null,
         lease = null, lease_expires_at = null, started_at = coalesce(started_at, edgeflow.now()),
         ended_at = edgeflow.now()
   where id = p_task_id;
  perform edgeflow._fail_run(t.run_id, t.slug, p_error);
end
$function$;
