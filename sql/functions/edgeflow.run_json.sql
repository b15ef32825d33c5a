CREATE OR REPLACE FUNCTION edgeflow.run_json(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', r.id, 'status', edgeflow.run_status_shown(r.id, r.status), 'flow', r.flow_name, 'version', r.version,
    'deployment', d.name, 'pool', r.pool, 'queue', r.queue, 'tags', to_jsonb(r.tags),
    'parameters', r.parameters, 'output', r.output, 'error', r.error,
    'idempotency_key', r.idempotency_key, 'retries', r.retries,
    'late', r.late_at is not null and r.status in ('SCHEDULED', 'PENDING'),
    'late_at', edgeflow.iso(r.late_at),
    'trace', pg_catalog.jsonb_build_object(
      'trace_id', coalesce(r.trace ->> 'trace_id', pg_catalog.replace(r.id::text, '-', '')),
      'span_id', r.trace ->> 'span_id', 'parent_id', r.trace ->> 'parent_id'),
    'parent', case when r.parent_task_id is null then null else (
      select jsonb_build_object('run_id', pt.run_id, 'step', pt.slug, 'task', pt.id)
        from edgeflow.tasks pt where pt.id = r.parent_task_id) end,
    'scheduled_time', edgeflow.iso(r.scheduled_time),
    'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
    'ended_at', edgeflow.iso(r.ended_at),
    'steps', coalesce((
      select jsonb_agg(jsonb_build_object(
               'slug', ss.slug, 'status', ss.status, 'depends_on', to_jsonb(fs.depends_on),
               'handler', fs.handler, 'map', fs.map_from, 'deployment', fs.deployment,
               'attempts', coalesce(tk.attempts, 0), 'tasks', coalesce(ss.total_tasks, 0),
               'output', ss.output, 'error', coalesce(ss.error, tk.last_error),
               'started_at', edgeflow.iso(ss.started_at), 'ended_at', edgeflow.iso(ss.ended_at))
             || case when ss.status = 'WAITING' then jsonb_build_object('wait', (
                  select jsonb_build_object('event', w.event_name, 'key', w.event_key,
                                            'until', edgeflow.iso(w.timeout_at),
                                            'on_timeout', w.on_timeout)
                    from edgeflow.waits w where w.run_id = ss.run_id and w.slug = ss.slug))
                  else '{}' end
             order by ss.step_index)
        from edgeflow.step_states ss
        join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = ss.slug
        left join lateral (
          select sum(t.attempts)::int as attempts,
                 (array_agg(t.error order by t.task_index) filter (where t.error is not null))[1]
                   as last_error
            from edgeflow.tasks t where t.run_id = ss.run_id and t.slug = ss.slug) tk on true
       where ss.run_id = r.id), '[]'),
    -- Children through runs_parent (0003), probed per task of this run.
    'children', coalesce((
      select jsonb_agg(jsonb_build_object('run_id', c.id, 'status', c.status, 'step', t.slug,
                                          'task_index', t.task_index)
                       order by c.created_at, t.task_index, c.id)
        from edgeflow.tasks t
        join edgeflow.runs c on c.parent_task_id = t.id
       where t.run_id = r.id), '[]'))
    from edgeflow.runs r
    left join edgeflow.deployments d on d.id = r.deployment_id
   where r.id = p_run_id;
$function$;
