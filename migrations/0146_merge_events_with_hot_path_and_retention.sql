-- merge_events_with_hot_path_and_retention: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.deployment_json.sql
-- The deployment document (0010's, now with its schedules).
CREATE OR REPLACE FUNCTION edgeflow.deployment_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'flow', d.flow_name,
    'version', coalesce(to_jsonb(d.version_pin), '"latest"'::jsonb),
    'pool', d.pool, 'queue', d.queue, 'description', d.description,
    'parameters', d.parameters, 'tags', to_jsonb(d.tags),
    'concurrency_limit', d.concurrency_limit, 'collision_strategy', d.collision_strategy,
    'paused', d.paused, 'job_variables', d.job_variables, 'retention_days', d.retention_days,
    'triggers', d.triggers, 'cancel_on', d.cancel_on, 'concurrency', d.concurrency,
    'schedules', coalesce((
      select jsonb_agg(edgeflow.schedule_entry_json(s, d.paused) order by s.position)
        from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb),
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$function$;

-- from sql/functions/edgeflow.run_json.sql
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

-- from sql/functions/edgeflow.upsert_deployment.sql
-- Create or update a deployment by name (the body is declarative: fields
-- left out take their defaults). Returns {deployment, created} or {error}.
CREATE OR REPLACE FUNCTION edgeflow.upsert_deployment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.flows where name = p ->> 'flow') then
    return jsonb_build_object('error', 'unknown_flow', 'path', 'flow');
  end if;
  if jsonb_typeof(p -> 'version') = 'number' and not exists (
       select 1 from edgeflow.flow_versions
        where flow_name = p ->> 'flow' and version = (p ->> 'version')::int) then
    return jsonb_build_object('error', 'unknown_version', 'path', 'version');
  end if;
  if not exists (select 1 from edgeflow.pools where name = p ->> 'pool') then
    return jsonb_build_object('error', 'unknown_pool', 'path', 'pool');
  end if;
  insert into edgeflow.pool_queues (pool, name) values (p ->> 'pool', p ->> 'queue')
  on conflict do nothing;
  insert into edgeflow.deployments as d (name, flow_name, version_pin, pool, queue, description,
                                         parameters, tags, concurrency_limit, collision_strategy,
                                         paused, job_variables, retention_days, triggers,
                                         cancel_on, concurrency)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'),
          (p ->> 'retention_days')::int,
          coalesce(p -> 'triggers', '[]'), coalesce(p -> 'cancel_on', '[]'),
          coalesce(p -> 'concurrency', '[]'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, retention_days = excluded.retention_days,
         triggers = excluded.triggers, cancel_on = excluded.cancel_on,
         concurrency = excluded.concurrency,
         updated_at = edgeflow.now()
  returning d.id, (d.xmax = 0) into v_id, v_created;
  return jsonb_build_object('deployment', edgeflow.deployment_json(v_id), 'created', v_created);
end
$function$;

-- from sql/triggers/runs.sql
-- The triggers on edgeflow.runs. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: runs_before_end → edgeflow._run_before_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))
--   2. after insert, for each row: events_run_insert → edgeflow._run_event()
--   3. after insert, for each row: runs_admit → edgeflow._run_admit() when (new.deployment_id IS NOT NULL)
--   4. after update, for each row: events_run_update → edgeflow._run_event() when (old.status IS DISTINCT FROM new.status)
--   5. after update, for each row: runs_after_child_end → edgeflow._subflow_child_end_trigger() when ((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   6. after update, for each row: runs_after_end → edgeflow._run_after_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   7. after update, for each row: runs_stop_children → edgeflow._subflow_parent_stopped() when ((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
CREATE OR REPLACE FUNCTION edgeflow._run_admit()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy, concurrency into d
    from edgeflow.deployments where id = new.deployment_id;
  if jsonb_array_length(d.concurrency) > 0 and new.status in ('SCHEDULED', 'PENDING') then
    -- Per-key concurrency (issue 16): in line first, then admitted by key.
    update edgeflow.runs
       set status = 'SCHEDULED', awaiting_slot = (select k.limit_key
                                                    from edgeflow._run_key_slots(new.id) k limit 1)
     where id = new.id;
    perform edgeflow._admit_keyed(new.deployment_id, new.id);
    if d.collision_strategy = 'cancel_new'
       and exists (select 1 from edgeflow.runs where id = new.id and awaiting_slot is not null) then
      update edgeflow.runs
         set status = 'CANCELLED', ended_at = edgeflow.now(),
             error = jsonb_build_object(
               'code', 'concurrency_limit',
               'message', 'a per-key concurrency limit of the deployment is full '
                          '(collision strategy cancel_new)')
       where id = new.id;
    end if;
    return null;
  end if;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, new.id, new.id);
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = edgeflow.now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$function$;

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
CREATE OR REPLACE FUNCTION edgeflow._run_after_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null
     and (('deployment:' || new.deployment_id) = any(v_freed)
          -- A per-key slot (issue 16).
          or exists (select 1 from unnest(v_freed) as k where k like 'dkey:%')) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$function$;

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
CREATE OR REPLACE FUNCTION edgeflow._run_before_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.awaiting_slot := null;
  if new.status = 'CRASHED' then
    if coalesce((select (fv.settings ->> 'lazarus')::boolean from edgeflow.flow_versions fv
                  where fv.id = new.flow_version_id), false) then
      if new.resurrections < 3 then
        new.lazarus_due := true;
      else
        new.error := coalesce(new.error, '{}') || jsonb_build_object(
          'resurrections', new.resurrections,
          'lazarus', 'gave up: the run crashed again after 3 resurrections');
      end if;
    end if;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._run_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error, run_created_at)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end, new.created_at);
  perform edgeflow._notify_event(new.id);
  return null;
end
$function$;

-- THE HOOK for outbound notifications (issue 13), and the only one in the
-- engine: a run reaching a final state writes one outbox row per matching
-- notification, in the transaction that ended the run. It sends nothing: the
-- drain (shared/notifications/) does after the commit, so a slow or dead
-- receiver never holds the engine's transaction. Without any active
-- notification for the event it costs one index-less lookup of a tiny table.
CREATE OR REPLACE FUNCTION edgeflow._run_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_event text := 'run.' || lower(new.status);
  v_deployment text;
begin
  if not exists (select 1 from edgeflow.notifications n
                  where n.active and v_event = any(n.events)) then
    return null;
  end if;
  select d.name into v_deployment from edgeflow.deployments d where d.id = new.deployment_id;
  insert into edgeflow.notification_deliveries
         (notification_id, message_id, run_id, event, payload, next_attempt_at, created_at)
  select n.id, 'msg_' || md5(n.id::text || ':' || new.id::text || ':' || v_event), new.id, v_event,
         jsonb_build_object(
           'type', v_event,
           'timestamp', edgeflow.iso(coalesce(new.ended_at, edgeflow.now())),
           'data', jsonb_build_object(
             'run_id', new.id, 'flow', new.flow_name, 'version', new.version,
             'deployment', v_deployment, 'status', new.status, 'parameters', new.parameters,
             'output', new.output, 'error', new.error,
             'created_at', edgeflow.iso(new.created_at), 'started_at', edgeflow.iso(new.started_at),
             'ended_at', edgeflow.iso(new.ended_at))),
         edgeflow.now(), edgeflow.now()
    from edgeflow.notifications n
   where n.active and v_event = any(n.events)
     and (n.flows is null or new.flow_name = any(n.flows))
     and (n.deployments is null or v_deployment = any(n.deployments))
  on conflict (message_id) do nothing;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._subflow_child_end_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$function$;

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
CREATE OR REPLACE FUNCTION edgeflow._subflow_parent_stopped()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select tk.id, tk.subflow_run_id from edgeflow.tasks tk
     where tk.run_id = new.id and tk.status = 'RUNNING' and tk.queue_name = 'ef_subflows'
     order by tk.task_index
       for update
  loop
    -- The task first: the child's end trigger then sees nothing to settle.
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = edgeflow.now()
     where id = t.id;
    perform 1 from edgeflow.runs where id = t.subflow_run_id for update skip locked;
    if found then
      perform edgeflow.cancel_run(t.subflow_run_id);
    end if;
  end loop;
  if found and new.status = 'CANCELLING' then
    -- Its subflow tasks were what kept it CANCELLING; worker tasks may remain.
    perform edgeflow._settle_cancelling(new.id);
  end if;
  return null;
end
$function$;

-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
CREATE OR REPLACE TRIGGER runs_before_end BEFORE UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))) EXECUTE FUNCTION edgeflow._run_before_end();

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
CREATE OR REPLACE TRIGGER events_run_insert AFTER INSERT ON edgeflow.runs FOR EACH ROW EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_admit AFTER INSERT ON edgeflow.runs FOR EACH ROW WHEN ((new.deployment_id IS NOT NULL)) EXECUTE FUNCTION edgeflow._run_admit();

CREATE OR REPLACE TRIGGER events_run_update AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_after_child_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._subflow_child_end_trigger();

CREATE OR REPLACE TRIGGER runs_after_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_after_end();

-- Outbound notifications: see edgeflow._run_notify above.
CREATE OR REPLACE TRIGGER runs_notify AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_notify();

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();

-- from sql/triggers/step_states.sql
-- The triggers on edgeflow.step_states. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: step_states_release_key_slots → edgeflow._step_release_key_slots() when (old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))
--   2. after update, for each statement: events_step_update → edgeflow._step_event()

-- One insert per statement from the transition tables (see _task_event).
CREATE OR REPLACE FUNCTION edgeflow._step_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_runs uuid[];
begin
  with ins as (
    insert into edgeflow.events (run_id, kind, step, from_status, to_status, error, run_created_at)
    select n.run_id, 'step', n.slug, o.status, n.status,
           case when n.status = 'FAILED' then n.error end,
           -- The partition key of events (sql/schema/80_events.sql).
           r.created_at
      from new_rows n join old_rows o on o.run_id = n.run_id and o.slug = n.slug
      join edgeflow.runs r on r.id = n.run_id
     where o.status is distinct from n.status
     order by n.run_id, n.step_index
    returning run_id
  )
  select array_agg(distinct run_id) into v_runs from ins;
  if v_runs is not null and pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform edgeflow._notify_event(r) from unnest(v_runs) as r;
  end if;
  return null;
end
$function$;

-- A step with per-key concurrency ended (issue 16): its key slots go back
-- and the next step in line for them starts, in this transaction.
CREATE OR REPLACE FUNCTION edgeflow._step_release_key_slots()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  delete from edgeflow.slots where holder = md5(new.run_id::text || '/' || new.slug)::uuid;
  perform edgeflow.admit_queued_steps(array(
    select k.limit_key from edgeflow._step_key_slots(new.run_id, new.slug) k));
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER events_step_update AFTER UPDATE ON edgeflow.step_states REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._step_event();

-- Only steps holding key slots enter PL/pgSQL: every other step end passes by
-- on the WHEN clause.
CREATE OR REPLACE TRIGGER step_states_release_key_slots AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))) EXECUTE FUNCTION edgeflow._step_release_key_slots();
