-- per_key_step_concurrency: written by `deno task sql:migration` from what changed in sql/.

-- Per-key concurrency of steps (issue 16): a flow step keeps its entries; a
-- step state says whether it holds key slots (the release trigger's WHEN).
alter table edgeflow.flow_steps add column concurrency jsonb;
alter table edgeflow.step_states add column holds_key_slots boolean default false not null;

create table edgeflow.step_key_queue (
  run_id uuid not null,
  slug text not null,
  limit_key text not null,
  created_at timestamp with time zone not null,
  constraint step_key_queue_pkey PRIMARY KEY (run_id, slug),
  constraint step_key_queue_run_id_slug_fkey FOREIGN KEY (run_id, slug) REFERENCES edgeflow.step_states(run_id, slug) ON DELETE CASCADE
);
CREATE INDEX step_key_queue_key ON edgeflow.step_key_queue USING btree (limit_key, created_at);

-- from sql/functions/edgeflow._finish_run.sql
-- The run is over: finish it with `p_status`, cancel whatever has not finished.
CREATE OR REPLACE FUNCTION edgeflow._finish_run(p_run_id uuid, p_status text, p_error jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.runs
     set status = p_status, error = coalesce(p_error, error), ended_at = edgeflow.now()
   where id = p_run_id;
  update edgeflow.step_states
     set status = 'CANCELLED', ended_at = edgeflow.now()
   where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'RUNNING', 'WAITING');
  delete from edgeflow.waits where run_id = p_run_id;
  delete from edgeflow.step_key_queue where run_id = p_run_id;
  perform edgeflow._cancel_queued_tasks(p_run_id);
end
$function$;

-- from sql/functions/edgeflow._crash_if_idle.sql
-- Crash a RUNNING run that has nothing left that could finish it. Locks the
-- run first (the lock order of 0006), then looks again.
CREATE OR REPLACE FUNCTION edgeflow._crash_if_idle(p_run_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform 1 from edgeflow.runs where id = p_run_id for update;
  if not exists (
       select 1 from edgeflow.runs r
        where r.id = p_run_id and r.status = 'RUNNING' and r.awaiting_slot is null
          and r.remaining_steps > 0
          and not exists (select 1 from edgeflow.tasks t
                           where t.run_id = r.id and t.status in ('QUEUED', 'RUNNING'))
          -- A waiting step, or one in line for a key's slot (issue 16), will finish it.
          and not exists (select 1 from edgeflow.waits w where w.run_id = r.id)
          and not exists (select 1 from edgeflow.step_key_queue q where q.run_id = r.id)
          and not exists (select 1 from edgeflow.tasks t
                            join edgeflow.runs c on c.parent_task_id = t.id
                           where t.run_id = r.id
                             and c.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')))
  then
    return false;
  end if;
  perform edgeflow._finish_run(p_run_id, 'CRASHED', jsonb_build_object(
    'message', 'the run had no queued or running task left to finish it', 'crashed', true));
  return true;
end
$function$;

-- from sql/functions/edgeflow._step_key_slots.sql
-- The per-key slots a step with `concurrency` entries needs (issue 16): one
-- per entry, keyed 'skey:<flow>/<slug>#<entry>:<rendered key>' (the key
-- template against the run's parameters and the step's dependencies' outputs;
-- naming nothing renders as ""), with the entry's limit. A key counts across
-- the versions of the flow.
CREATE OR REPLACE FUNCTION edgeflow._step_key_slots(p_run_id uuid, p_slug text)
 RETURNS TABLE(limit_key text, slot_limit integer)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select 'skey:' || r.flow_name || '/' || fs.slug || '#' || (c.ord - 1) || ':'
           || coalesce(edgeflow._render_template(c.entry ->> 'key', jsonb_build_object(
                'run', r.parameters,
                'deps', (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                           from edgeflow.step_states ss
                          where ss.run_id = r.id and ss.slug = any(fs.depends_on)))), ''),
         (c.entry ->> 'limit')::integer
    from edgeflow.runs r
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = p_slug
    cross join lateral jsonb_array_elements(fs.concurrency) with ordinality as c(entry, ord)
   where r.id = p_run_id
   order by c.ord;
$function$;

-- from sql/functions/edgeflow._take_step_slots.sql
-- A step with per-key `concurrency` is ready (issue 16): take a slot of
-- each of its keys and return true, or put it in line (step_key_queue) and
-- return false. It does not overtake a step already in line for one of its
-- keys. The slots' holder is a uuid derived from the run and slug; they are
-- given back when the step ends (edgeflow._step_release_key_slots) or with
-- the run's (edgeflow._run_after_end). Keys are locked in name order.
CREATE OR REPLACE FUNCTION edgeflow._take_step_slots(p_run_id uuid, p_slug text)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_holder uuid := md5(p_run_id::text || '/' || p_slug)::uuid;
  v_mine timestamptz;
  k record;
begin
  if exists (select 1 from edgeflow.step_states
              where run_id = p_run_id and slug = p_slug and holds_key_slots) then
    return true;
  end if;
  for k in select distinct s.limit_key from edgeflow._step_key_slots(p_run_id, p_slug) s
            order by 1 loop
    perform edgeflow._slot_lock(k.limit_key);
  end loop;
  select created_at into v_mine from edgeflow.step_key_queue
   where run_id = p_run_id and slug = p_slug;
  if exists (select 1 from edgeflow._step_key_slots(p_run_id, p_slug) s
              where edgeflow._slots_held(s.limit_key) >= s.slot_limit
                 or exists (select 1 from edgeflow.step_key_queue q
                             where q.limit_key = s.limit_key
                               and (q.run_id, q.slug) <> (p_run_id, p_slug)
                               and q.created_at <= coalesce(v_mine, 'infinity'))) then
    insert into edgeflow.step_key_queue (run_id, slug, limit_key, created_at)
    select p_run_id, p_slug, s.limit_key, edgeflow.now()
      from edgeflow._step_key_slots(p_run_id, p_slug) s limit 1
    on conflict (run_id, slug) do nothing;
    return false;
  end if;
  insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
  select s.limit_key, v_holder, p_run_id, edgeflow.now()
    from edgeflow._step_key_slots(p_run_id, p_slug) s;
  update edgeflow.step_states set holds_key_slots = true
   where run_id = p_run_id and slug = p_slug;
  delete from edgeflow.step_key_queue where run_id = p_run_id and slug = p_slug;
  return true;
end
$function$;

-- from sql/functions/edgeflow._start_steps_unguarded.sql
CREATE OR REPLACE FUNCTION edgeflow._start_steps_unguarded(p_run_id uuid, p_slugs text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
  s record;
  v_work text[] := p_slugs;
  v_slug text;
  v_items jsonb;
  v_n integer;
  v_queue text;
  v_at timestamptz;
  v_ids uuid[];
  v_msgs bigint[];
  v_id uuid;
  v_ready text[];
begin
  select id, flow_version_id, pool, queue, scheduled_time into r
    from edgeflow.runs where id = p_run_id;
  while cardinality(v_work) > 0 loop
    v_slug := v_work[1];
    v_work := v_work[2:];
    select * into s from edgeflow.flow_steps
     where flow_version_id = r.flow_version_id and slug = v_slug;
    -- Events and waits (issue 16): a `wait` or `sleep` step enqueues no task.
    if s.wait is not null then
      v_ready := edgeflow._start_wait(p_run_id, v_slug, s.wait);
      if v_ready is null then
        return;
      end if;
      v_work := v_work || v_ready;
      continue;
    end if;
    -- Per-key step concurrency (issue 16): in line until its keys have a slot.
    if s.concurrency is not null and not edgeflow._take_step_slots(p_run_id, v_slug) then
      continue;
    end if;
    v_items := null;
    v_n := 1;
    if s.map_from is not null then
      select output into v_items from edgeflow.step_states
       where run_id = p_run_id and slug = s.map_from;
      if jsonb_typeof(v_items) is distinct from 'array' then
        perform edgeflow._fail_run(p_run_id, v_slug, jsonb_build_object(
          'message', format('step "%s" maps over "%s", whose output is not an array',
                            v_slug, s.map_from)));
        return;
      end if;
      v_n := jsonb_array_length(v_items);
    end if;

    if v_n = 0 then
      update edgeflow.step_states
         set status = 'COMPLETED', output = '[]', remaining_tasks = 0, total_tasks = 0,
             queued_at = edgeflow.now(), started_at = edgeflow.now(), ended_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      v_work := v_work || edgeflow._step_done(p_run_id, r.flow_version_id, v_slug);
      continue;
    end if;

    v_at := greatest(edgeflow.now() + make_interval(secs => s.start_delay),
                     coalesce(r.scheduled_time, '-infinity'));
    v_ids := array(select gen_random_uuid() from generate_series(1, v_n));

    if s.deployment is not null then
      insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                  queue_name, msg_id, available_at)
      select v_ids[i], p_run_id, v_slug, i - 1,
             case when s.map_from is null then null else v_items -> (i - 1) end,
             'QUEUED', s.max_attempts, 'ef_subflows', null, v_at
        from generate_series(1, v_n) as i;
      update edgeflow.step_states
         set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
       where run_id = p_run_id and slug = v_slug;
      if v_at > edgeflow.now() then
        v_msgs := array(
          select pgmq.send_batch(
            'ef_subflows',
            array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                    from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
            edgeflow.delay_seconds(v_at)));
        update edgeflow.tasks t set msg_id = v_msgs[m.ord]
          from unnest(v_ids) with ordinality as m(id, ord)
         where t.id = m.id;
        continue;
      end if;
      foreach v_id in array v_ids loop
        perform edgeflow._start_subflow_task(v_id);
        -- A child refused (or ended at birth and failed the step for good)
        -- ended this run: nothing else starts.
        if exists (select 1 from edgeflow.runs where id = p_run_id
                      and status not in ('PENDING', 'SCHEDULED', 'RUNNING')) then
          return;
        end if;
      end loop;
      continue;
    end if;

    v_queue := edgeflow.ensure_handler_queue(r.pool, r.queue, s.handler, s.timeout);
    v_msgs := array(
      select pgmq.send_batch(
        v_queue,
        array(select jsonb_build_object('task', i.id, 'run', p_run_id)
                from unnest(v_ids) with ordinality as i(id, ord) order by i.ord),
        edgeflow.delay_seconds(v_at)));
    insert into edgeflow.tasks (id, run_id, slug, task_index, item, status, max_attempts,
                                queue_name, msg_id, available_at)
    select v_ids[i], p_run_id, v_slug, i - 1,
           case when s.map_from is null then null else v_items -> (i - 1) end,
           'QUEUED', s.max_attempts, v_queue, v_msgs[i], v_at
      from generate_series(1, v_n) as i;
    update edgeflow.step_states
       set status = 'QUEUED', remaining_tasks = v_n, total_tasks = v_n, queued_at = edgeflow.now()
     where run_id = p_run_id and slug = v_slug;
  end loop;
end
$function$;

-- from sql/functions/edgeflow.admit_queued_steps.sql
-- Start steps in line for a key's slot (issue 16), oldest first, for the
-- keys given (null: every key; the tick's catch-up). A run locked right now
-- is skipped (its step stays in line for the tick); a step no longer PENDING
-- or of a run that ended leaves the line. Returns how many steps started.
CREATE OR REPLACE FUNCTION edgeflow.admit_queued_steps(p_keys text[] DEFAULT NULL::text[], p_limit integer DEFAULT 100)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  q record;
  v_started integer := 0;
begin
  for q in
    select kq.run_id, kq.slug from edgeflow.step_key_queue kq
     where p_keys is null or kq.limit_key = any(p_keys)
     order by kq.created_at, kq.run_id, kq.slug limit p_limit
  loop
    perform 1 from edgeflow.runs where id = q.run_id for update skip locked;
    continue when not found;
    if not exists (select 1 from edgeflow.step_states ss join edgeflow.runs r on r.id = ss.run_id
                    where ss.run_id = q.run_id and ss.slug = q.slug and ss.status = 'PENDING'
                      and r.status in ('PENDING', 'SCHEDULED', 'RUNNING')) then
      delete from edgeflow.step_key_queue where run_id = q.run_id and slug = q.slug;
      continue;
    end if;
    perform edgeflow._start_steps(q.run_id, array[q.slug]);
    if exists (select 1 from edgeflow.step_states where run_id = q.run_id and slug = q.slug
                  and holds_key_slots) then
      v_started := v_started + 1;
    end if;
  end loop;
  return v_started;
end
$function$;

-- from sql/functions/edgeflow.cancel_run.sql
-- Cancel a run: queued work is removed at once; running tasks are told on
-- their next heartbeat, and the run is CANCELLING until they have ended.
CREATE OR REPLACE FUNCTION edgeflow.cancel_run(p_run_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
begin
  select id, status into r from edgeflow.runs where id = p_run_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    return jsonb_build_object('run_id', p_run_id, 'status', r.status, 'changed', false);
  end if;
  if exists (select 1 from edgeflow.tasks where run_id = p_run_id and status = 'RUNNING') then
    update edgeflow.runs set status = 'CANCELLING' where id = p_run_id;
    update edgeflow.step_states set status = 'CANCELLED', ended_at = edgeflow.now()
     where run_id = p_run_id and status in ('PENDING', 'QUEUED', 'WAITING');
    delete from edgeflow.waits where run_id = p_run_id;
    delete from edgeflow.step_key_queue where run_id = p_run_id;
    perform edgeflow._cancel_queued_tasks(p_run_id);
  else
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
  return jsonb_build_object('run_id', p_run_id, 'changed', true,
    'status', (select status from edgeflow.runs where id = p_run_id));
end
$function$;

-- from sql/functions/edgeflow.register_flow.sql
-- Register a flow version from its canonical definition (normalised by the
-- API layer: every field present, steps in topological order). Identical
-- re-registration, or the latest version's idempotency key, returns the
-- existing version; anything else becomes version N+1 and archives the
-- previous unarchived version of the same version group.
CREATE OR REPLACE FUNCTION edgeflow.register_flow(p_def jsonb, p_idempotency_key text DEFAULT NULL::text, p_version_group text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_name text := p_def ->> 'name';
  v_group text := coalesce(p_version_group, p_def ->> 'name');
  v_hash text := encode(sha256(convert_to(p_def::text, 'UTF8')), 'hex');
  v_latest record;
  v_id uuid;
  v_version integer;
begin
  -- One registration of a flow at a time: version numbers stay dense.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.register:' || v_name));
  insert into edgeflow.flows (name) values (v_name) on conflict do nothing;
  select id, version, hash, idempotency_key, version_group into v_latest
    from edgeflow.flow_versions where flow_name = v_name order by version desc limit 1;
  if found and (
       (p_idempotency_key is not null and v_latest.idempotency_key = p_idempotency_key)
    or (p_idempotency_key is null and v_latest.hash = v_hash and v_latest.version_group = v_group)
  ) then
    return jsonb_build_object('id', v_latest.id, 'name', v_name, 'version', v_latest.version,
                              'hash', v_latest.hash, 'created', false);
  end if;

  v_version := coalesce(v_latest.version, 0) + 1;
  update edgeflow.flow_versions set archived = true, archived_at = edgeflow.now()
   where flow_name = v_name and version_group = v_group and not archived;
  insert into edgeflow.flow_versions (flow_name, version, version_group, hash, idempotency_key,
                                      definition, settings)
  values (v_name, v_version, v_group, v_hash, p_idempotency_key, p_def,
          coalesce(p_def -> 'settings', '{}'))
  returning id into v_id;

  insert into edgeflow.flow_steps (flow_version_id, slug, step_index, handler, depends_on,
                                   dependents, map_from, max_attempts, base_delay, timeout,
                                   start_delay, args, deployment, wait, concurrency)
  select v_id, st ->> 'slug', (ord - 1)::integer, st ->> 'handler',
         array(select jsonb_array_elements_text(st -> 'depends_on')),
         array(select o ->> 'slug' from jsonb_array_elements(p_def -> 'steps') as o
                where o -> 'depends_on' ? (st ->> 'slug')),
         st ->> 'map', (st ->> 'max_attempts')::integer, (st ->> 'base_delay')::double precision,
         (st ->> 'timeout')::integer, coalesce((st ->> 'start_delay')::integer, 0),
         st -> 'args', st ->> 'deployment',
         -- A wait or a sleep (issue 16): {"event": …}, {"sleep": seconds} or {"until": time}.
         case when st ? 'wait' then st -> 'wait'
              when jsonb_typeof(st -> 'sleep') = 'number'
                then jsonb_build_object('sleep', st -> 'sleep')
              when st ? 'sleep' then st -> 'sleep' end,
         st -> 'concurrency'
    from jsonb_array_elements(p_def -> 'steps') with ordinality as s(st, ord);

  return jsonb_build_object('id', v_id, 'name', v_name, 'version', v_version, 'hash', v_hash,
                            'created', true);
end
$function$;

-- from sql/triggers/step_states.sql
-- The triggers on edgeflow.step_states. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: events_step_update → edgeflow._step_event() when (old.status IS DISTINCT FROM new.status)
--   2. after update, for each row: step_states_release_key_slots → edgeflow._step_release_key_slots() when (old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))

CREATE OR REPLACE FUNCTION edgeflow._step_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, step, from_status, to_status, error)
  values (new.run_id, 'step', new.slug, old.status, new.status,
          case when new.status = 'FAILED' then new.error end);
  perform edgeflow._notify_event(new.run_id);
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

CREATE OR REPLACE TRIGGER events_step_update AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._step_event();

-- Only steps holding key slots enter PL/pgSQL: every other step end passes by
-- on the WHEN clause.
CREATE OR REPLACE TRIGGER step_states_release_key_slots AFTER UPDATE OF status ON edgeflow.step_states FOR EACH ROW WHEN ((old.holds_key_slots AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text])))) EXECUTE FUNCTION edgeflow._step_release_key_slots();
