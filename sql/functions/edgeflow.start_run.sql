-- Start a run of a flow version. Options (all optional): deployment_id, pool,
-- queue, tags, idempotency_scope + idempotency_key + request_hash,
-- parent_task_id, scheduled_time, trace (the run's trace context, see
-- edgeflow.trace_context). Returns {run_id, status, created} or
-- {error} for expected refusals (archived, unknown version, idempotency
-- conflict), never an exception for those.
-- created_at by the engine's clock, not the column's now() default: a run
-- triggered after a test moved the clock was that much older at once (late at
-- the next tick, its age on the dashboard off by the shift).
CREATE OR REPLACE FUNCTION edgeflow.start_run(p_flow_version_id uuid, p_parameters jsonb, p_opts jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  fv record;
  v_run_id uuid := gen_random_uuid();
  v_existing record;
  v_scheduled timestamptz := (p_opts ->> 'scheduled_time')::timestamptz;
  v_pool text := coalesce(p_opts ->> 'pool', 'default');
  v_queue text := coalesce(p_opts ->> 'queue', 'default');
  v_status text;
  v_steps integer;
  v_roots text[];
  v_tags text[];
begin
  select id, flow_name, version, archived, settings, definition -> 'tags' as tags into fv
    from edgeflow.flow_versions where id = p_flow_version_id;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if fv.archived then
    return jsonb_build_object('error', 'archived', 'flow', fv.flow_name, 'version', fv.version);
  end if;
  if not exists (select 1 from edgeflow.pools where name = v_pool) then
    return jsonb_build_object('error', 'unknown_pool', 'pool', v_pool);
  end if;
  v_status := case when v_scheduled > edgeflow.now() then 'SCHEDULED' else 'PENDING' end;
  select count(*), array_agg(slug order by step_index) filter (where cardinality(depends_on) = 0)
    into v_steps, v_roots
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  v_tags := array(
    select t.tag
      from jsonb_array_elements_text(
             case when jsonb_typeof(fv.tags) = 'array' then fv.tags else '[]' end
             || case when jsonb_typeof(p_opts -> 'tags') = 'array' then p_opts -> 'tags'
                     else '[]' end) with ordinality as t(tag, ord)
     group by t.tag
     order by min(t.ord));

  insert into edgeflow.runs (id, flow_version_id, flow_name, version, deployment_id, pool, queue,
                             parameters, tags, status, remaining_steps, version_lock, heartbeat,
                             idempotency_scope, idempotency_key, request_hash, parent_task_id,
                             scheduled_time, trace, created_at)
  values (v_run_id, fv.id, fv.flow_name, fv.version, (p_opts ->> 'deployment_id')::uuid,
          v_pool, v_queue, coalesce(p_parameters, '{}'), v_tags,
          v_status, v_steps,
          coalesce((fv.settings ->> 'version_lock')::boolean, true),
          coalesce((fv.settings ->> 'heartbeat')::boolean, true),
          p_opts ->> 'idempotency_scope', p_opts ->> 'idempotency_key',
          p_opts ->> 'request_hash', (p_opts ->> 'parent_task_id')::uuid, v_scheduled,
          p_opts -> 'trace', edgeflow.now())
  on conflict (idempotency_scope, idempotency_key) where idempotency_key is not null
  do nothing;

  if not found then
    -- Same key seen before: the same request gets the same run.
    select id, status, request_hash into v_existing from edgeflow.runs
     where idempotency_scope = p_opts ->> 'idempotency_scope'
       and idempotency_key = p_opts ->> 'idempotency_key';
    if v_existing.request_hash is distinct from p_opts ->> 'request_hash' then
      return jsonb_build_object('error', 'idempotency_conflict', 'run_id', v_existing.id);
    end if;
    return jsonb_build_object('run_id', v_existing.id, 'status', v_existing.status,
                              'created', false);
  end if;

  -- run_created_at: the events' partition key, carried so that the event
  -- triggers need not look the run up (see _step_event).
  insert into edgeflow.step_states (run_id, slug, step_index, status, remaining_deps,
                                    run_created_at)
  select v_run_id, slug, step_index, 'PENDING', cardinality(depends_on),
         (select r.created_at from edgeflow.runs r where r.id = v_run_id)
    from edgeflow.flow_steps where flow_version_id = p_flow_version_id;
  perform edgeflow._start_steps(v_run_id, v_roots);

  select status into v_status from edgeflow.runs where id = v_run_id;
  return jsonb_build_object('run_id', v_run_id, 'status', v_status, 'created', true,
                            'flow', fv.flow_name, 'version', fv.version);
end
$function$;
