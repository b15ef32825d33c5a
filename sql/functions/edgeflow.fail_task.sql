-- Fail an attempt: retry after base_delay * 2^(attempt-1) seconds while
-- attempts remain (the message stays invisible until then), else fail the
-- step and the run.
CREATE OR REPLACE FUNCTION edgeflow.fail_task(p_task_id uuid, p_lease uuid, p_error jsonb, p_retryable boolean DEFAULT true)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  t record;
  r record;
  v_delay double precision;
  v_retry_at timestamptz;
begin
  if v_problem is not null then
    return v_problem;
  end if;
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  select id, flow_version_id into r from edgeflow.runs where id = t.run_id;
  if coalesce(p_retryable, true) and t.attempts < t.max_attempts then
    select fs.base_delay * power(2, greatest(t.attempts, 1) - 1) into v_delay
      from edgeflow.flow_steps fs
     where fs.flow_version_id = r.flow_version_id and fs.slug = t.slug;
    v_retry_at := edgeflow.now() + make_interval(secs => v_delay);
    update edgeflow.tasks
       set status = 'QUEUED', error = p_error, lease = null, lease_expires_at = null,
           available_at = v_retry_at
     where id = p_task_id;
    perform edgeflow._requeue(p_task_id, v_retry_at);
    return jsonb_build_object('ok', true, 'task', p_task_id, 'retry_at', edgeflow.iso(v_retry_at),
                              'attempt', t.attempts);
  end if;
  perform pgmq.archive(t.queue_name, t.msg_id);
  update edgeflow.tasks
     set status = 'FAILED', error = p_error, lease = null, lease_expires_at = null,
         ended_at = edgeflow.now()
   where id = p_task_id;
  perform edgeflow._fail_run(r.id, t.slug, p_error);
  return jsonb_build_object('ok', true, 'task', p_task_id, 'retry_at', null,
                            'run_status', 'FAILED');
end
$function$;
