CREATE OR REPLACE FUNCTION edgeflow.complete_task(p_task_id uuid, p_lease uuid, p_output jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_problem jsonb := edgeflow._lock_for_result(p_task_id, p_lease);
  t record;
  r record;
  v_step record;
  v_output jsonb;
  v_ready text[];
begin
  if v_problem is not null then
    return v_problem;
  end if;
  select id, run_id, slug, attempts, max_attempts, queue_name, msg_id into t
    from edgeflow.tasks where id = p_task_id;
  select id, flow_version_id into r from edgeflow.runs where id = t.run_id;
  perform pgmq.delete(t.queue_name, t.msg_id);
  update edgeflow.tasks
     set status = 'COMPLETED', output = p_output, lease = null, lease_expires_at = null,
         ended_at = edgeflow.now()
   where id = p_task_id;
  update edgeflow.step_states set remaining_tasks = remaining_tasks - 1
   where run_id = r.id and slug = t.slug
  returning remaining_tasks, total_tasks into v_step;
  if v_step.remaining_tasks = 0 then
    if exists (select 1 from edgeflow.flow_steps where flow_version_id = r.flow_version_id
                  and slug = t.slug and map_from is not null) then
      select coalesce(jsonb_agg(output order by task_index), '[]') into v_output
        from edgeflow.tasks where run_id = r.id and slug = t.slug;
    else
      v_output := p_output;
    end if;
    update edgeflow.step_states set status = 'COMPLETED', output = v_output, ended_at = edgeflow.now()
     where run_id = r.id and slug = t.slug;
    v_ready := edgeflow._step_done(r.id, r.flow_version_id, t.slug);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(r.id, v_ready);
    end if;
  end if;
  return jsonb_build_object('ok', true, 'task', p_task_id,
    'run_status', (select status from edgeflow.runs where id = r.id));
end
$function$;
