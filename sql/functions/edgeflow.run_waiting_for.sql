-- {slug: {reason, message, …}} for the steps of a run that wait on something
-- other than a free worker's next claim. Reasons: concurrency_limit (with
-- `limit`: deployment:<name>, pool:<pool>, queue:<pool>/<queue>, tag:<tag>),
-- retry_backoff / start_delay / scheduled (with `until`), pool_paused,
-- queue_paused, no_worker (with `pool`, `handler`).
CREATE OR REPLACE FUNCTION edgeflow.run_waiting_for(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  r record;
  p record;
  s record;
  l record;
  v_out jsonb := '{}';
  v_why jsonb;
begin
  select ru.id, ru.pool, ru.tags, ru.status, ru.awaiting_slot, ru.scheduled_time,
         d.name as deployment, d.concurrency_limit as deployment_limit
    into r
    from edgeflow.runs ru left join edgeflow.deployments d on d.id = ru.deployment_id
   where ru.id = p_run_id;
  if not found or r.status not in ('SCHEDULED', 'PENDING', 'RUNNING') then
    return v_out;
  end if;
  if r.awaiting_slot is not null then
    -- Not admitted yet (0016): no task exists; its first steps say why.
    select coalesce(jsonb_object_agg(ss.slug, jsonb_build_object(
             'reason', 'concurrency_limit', 'limit', 'deployment:' || r.deployment,
             'message', format('deployment %s is at its concurrency limit: at most %s '
                               'run(s) at a time, this one waits its turn',
                               r.deployment, r.deployment_limit))), '{}')
      into v_out
      from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.status = 'PENDING' and ss.remaining_deps = 0;
    return v_out;
  end if;
  select type, paused, concurrency_limit into p from edgeflow.pools where name = r.pool;

  for s in
    select distinct on (tk.slug) tk.slug, tk.attempts, tk.available_at, h.handler, h.queue,
           q.paused as queue_paused, q.concurrency_limit as queue_limit
      from edgeflow.tasks tk
      join edgeflow.handler_queues h on h.queue_name = tk.queue_name
      join edgeflow.pool_queues q on q.pool = h.pool and q.name = h.queue
     where tk.run_id = p_run_id and tk.status = 'QUEUED'
     order by tk.slug, tk.available_at, tk.task_index
  loop
    v_why := null;
    if s.available_at > edgeflow.now() then
      v_why := case
        when s.attempts > 0 then jsonb_build_object(
          'reason', 'retry_backoff', 'until', edgeflow.iso(s.available_at),
          'message', format('retry backoff: attempt %s starts at %s', s.attempts + 1,
                            edgeflow.iso(s.available_at)))
        when r.scheduled_time is not null and s.available_at <= r.scheduled_time
          then jsonb_build_object(
          'reason', 'scheduled', 'until', edgeflow.iso(s.available_at),
          'message', format('scheduled for %s', edgeflow.iso(s.available_at)))
        else jsonb_build_object(
          'reason', 'start_delay', 'until', edgeflow.iso(s.available_at),
          'message', format('start delay: starts at %s', edgeflow.iso(s.available_at)))
      end;
    elsif p.paused then
      v_why := jsonb_build_object('reason', 'pool_paused', 'pool', r.pool,
                                  'message', format('pool %s is paused', r.pool));
    elsif s.queue_paused then
      v_why := jsonb_build_object('reason', 'queue_paused', 'pool', r.pool, 'queue', s.queue,
                                  'message', format('queue %s of pool %s is paused',
                                                    s.queue, r.pool));
    elsif p.type <> 'push' and not edgeflow._handler_online(r.pool, s.handler) then
      v_why := jsonb_build_object(
        'reason', 'no_worker', 'pool', r.pool, 'handler', s.handler,
        'message', format('no worker online for handler %s in pool %s', s.handler, r.pool));
    else
      -- A full limit, in the claim's order (0017): pool, queue, then tags.
      select k.key, k.lim, k.held into l
        from (
          select 1 as ord, 'pool:' || r.pool as key, p.concurrency_limit as lim
           where p.concurrency_limit is not null
          union all
          select 2, 'queue:' || r.pool || '/' || s.queue, s.queue_limit
           where s.queue_limit is not null
          union all
          select 3, 'tag:' || cl.tag, cl."limit"
            from edgeflow.concurrency_limits cl where cl.tag = any(r.tags)
        ) k0
        cross join lateral (select k0.ord, k0.key, k0.lim,
                                   edgeflow._slots_held(k0.key) as held) k
       where k.held >= k.lim
       order by k.ord, k.key
       limit 1;
      if found then
        v_why := jsonb_build_object(
          'reason', 'concurrency_limit', 'limit', l.key,
          'message', format('concurrency limit %s is full (%s of %s running)',
                            l.key, l.held, l.lim));
      end if;
    end if;
    if v_why is not null then
      v_out := v_out || jsonb_build_object(s.slug, v_why);
    end if;
  end loop;
  return v_out;
end
$function$;
