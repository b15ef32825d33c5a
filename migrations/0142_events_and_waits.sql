-- events_and_waits: written by `deno task sql:migration` from what changed in sql/.

-- Events and waits (issue 16): a step can be WAITING; a flow step keeps its
-- wait or sleep; a deployment its triggers, cancel_on and per-key concurrency.
alter table edgeflow.step_states drop constraint step_states_status_check;
alter table edgeflow.step_states add constraint step_states_status_check CHECK ((status = ANY (ARRAY['PENDING'::text, 'QUEUED'::text, 'RUNNING'::text, 'COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'WAITING'::text])));

alter table edgeflow.deployments
  add column triggers jsonb default '[]'::jsonb not null,
  add column cancel_on jsonb default '[]'::jsonb not null,
  add column concurrency jsonb default '[]'::jsonb not null;

alter table edgeflow.flow_steps add column wait jsonb;

create table edgeflow.concurrency_key_turns (
  deployment_id uuid not null,
  limit_key text not null,
  turn bigint not null,
  constraint concurrency_key_turns_pkey PRIMARY KEY (deployment_id, limit_key),
  constraint concurrency_key_turns_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);

create table edgeflow.inbound_events (
  id uuid default gen_random_uuid() not null,
  name text not null,
  key text default ''::text not null,
  payload jsonb,
  dedupe_id text,
  received_at timestamp with time zone not null,
  processed_at timestamp with time zone,
  runs_resumed integer default 0 not null,
  runs_started integer default 0 not null,
  constraint inbound_events_pkey PRIMARY KEY (id),
  constraint inbound_events_dedupe_id_key UNIQUE (dedupe_id)
);
CREATE INDEX inbound_events_name_key ON edgeflow.inbound_events USING btree (name, key, received_at DESC);
CREATE INDEX inbound_events_received ON edgeflow.inbound_events USING btree (received_at);
CREATE INDEX inbound_events_unprocessed ON edgeflow.inbound_events USING btree (received_at) WHERE (processed_at IS NULL);

create table edgeflow.trigger_debounces (
  deployment_id uuid not null,
  trigger_index integer not null,
  key text not null,
  event_id uuid not null,
  fire_at timestamp with time zone not null,
  constraint trigger_debounces_pkey PRIMARY KEY (deployment_id, trigger_index, key),
  constraint trigger_debounces_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);
CREATE INDEX trigger_debounces_fire_at ON edgeflow.trigger_debounces USING btree (fire_at);

create table edgeflow.waits (
  run_id uuid not null,
  slug text not null,
  event_name text,
  event_key text,
  match jsonb,
  timeout_at timestamp with time zone not null,
  on_timeout text not null,
  created_at timestamp with time zone not null,
  constraint waits_pkey PRIMARY KEY (run_id, slug),
  constraint waits_on_timeout_check CHECK ((on_timeout = ANY (ARRAY['fail'::text, 'continue'::text]))),
  constraint waits_run_id_slug_fkey FOREIGN KEY (run_id, slug) REFERENCES edgeflow.step_states(run_id, slug) ON DELETE CASCADE
);
CREATE INDEX waits_event ON edgeflow.waits USING btree (event_name, event_key) WHERE (event_name IS NOT NULL);
CREATE INDEX waits_timeout ON edgeflow.waits USING btree (timeout_at);

-- from sql/functions/edgeflow._render_template.sql
-- A key template rendered as text: each `{{ ref }}` replaced by the text of
-- the value it names in `p_ctx` (strings as they are, anything else as JSON).
-- A ref is `root`, `root.name` or either followed by a JSON pointer
-- (`run.order/id`, `deps.fetch/rows/0`, `event.payload/ref`); the roots a
-- template may use are checked at registration (shared/api/key_template.ts).
-- Null when a ref names nothing: the caller decides what that means.
CREATE OR REPLACE FUNCTION edgeflow._render_template(p_template text, p_ctx jsonb)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_parts text[];
  v_out text;
  v_ref text;
  v_m text[];
  v_path text[];
  v_value jsonb;
  v_i integer := 1;
begin
  if p_template is null or strpos(p_template, '{{') = 0 then
    return p_template;
  end if;
  v_parts := regexp_split_to_array(p_template, '\{\{[^}]*\}\}');
  v_out := v_parts[1];
  for v_ref in
    select btrim(m.g[1]) from regexp_matches(p_template, '\{\{([^}]*)\}\}', 'g')
                              with ordinality as m(g, ord)
     order by m.ord
  loop
    v_m := regexp_match(v_ref, '^([a-z]+)(?:\.([^/]+))?(/.*)?$');
    if v_m is null then
      return null;
    end if;
    v_path := array[v_m[1]];
    if v_m[2] is not null then
      v_path := v_path || v_m[2];
    end if;
    if v_m[3] is not null then
      v_path := v_path || array(
        select replace(replace(s.seg, '~1', '/'), '~0', '~')
          from unnest(string_to_array(substr(v_m[3], 2), '/')) with ordinality as s(seg, ord)
         order by s.ord);
    end if;
    v_value := p_ctx #> v_path;
    if v_value is null then
      return null;
    end if;
    v_i := v_i + 1;
    v_out := v_out || case when jsonb_typeof(v_value) = 'string' then v_value #>> '{}'
                           else v_value::text end
                   || coalesce(v_parts[v_i], '');
  end loop;
  return v_out;
end
$function$;

-- from sql/functions/edgeflow._run_key_slots.sql
-- The per-key slots a run of a deployment with `concurrency` entries needs:
-- one per entry, keyed 'dkey:<deployment>#<entry>:<rendered key>' (a key
-- template naming nothing renders as ""), with the entry's limit.
CREATE OR REPLACE FUNCTION edgeflow._run_key_slots(p_run_id uuid)
 RETURNS TABLE(limit_key text, slot_limit integer)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select 'dkey:' || r.deployment_id || '#' || (c.ord - 1) || ':'
           || coalesce(edgeflow._render_template(c.entry ->> 'key',
                                                 jsonb_build_object('run', r.parameters)), ''),
         (c.entry ->> 'limit')::integer
    from edgeflow.runs r
    join edgeflow.deployments d on d.id = r.deployment_id
    cross join lateral jsonb_array_elements(d.concurrency) with ordinality as c(entry, ord)
   where r.id = p_run_id
   order by c.ord;
$function$;

-- from sql/functions/edgeflow._admit_keyed.sql
-- Admission of a deployment with per-key `concurrency` (issue 16), for new
-- runs (edgeflow._run_admit makes them wait first, then calls this) and
-- when slots free (edgeflow._admit_waiting). A waiting run is admitted when
-- every key it renders has a free slot, and the deployment's
-- concurrency_limit, if any, too; candidates go key by key, the key whose
-- last admission is oldest first (concurrency_key_turns), then oldest run:
-- round robin across keys, so a burst of one key does not make the others
-- wait behind it. Slots are rows of edgeflow.slots held by the run, given
-- back with the deployment slot when it ends (edgeflow._run_after_end).
--
-- Cost: one pass over the deployment's waiting runs per call (runs_awaiting),
-- each probing its keys' slots; measured with 90 waiting runs in
-- tests/events/key_concurrency_test.ts, not for deep backlogs.
-- `p_new_run`, when given, was just inserted: its steps are started by
-- edgeflow.start_run, not here. Returns how many runs were admitted.
CREATE OR REPLACE FUNCTION edgeflow._admit_keyed(p_deployment_id uuid, p_new_run uuid DEFAULT NULL::uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_dep_key text := 'deployment:' || p_deployment_id;
  v_limit integer;
  w record;
  v_admitted integer := 0;
begin
  select concurrency_limit into v_limit from edgeflow.deployments where id = p_deployment_id;
  perform edgeflow._slot_lock(v_dep_key);
  for w in
    select r.id, r.scheduled_time, r.awaiting_slot
      from edgeflow.runs r
      left join edgeflow.concurrency_key_turns t
        on t.deployment_id = p_deployment_id and t.limit_key = r.awaiting_slot
     where r.deployment_id = p_deployment_id and r.awaiting_slot is not null
       and r.status in ('SCHEDULED', 'PENDING')
     order by t.turn nulls first, r.created_at, r.id
  loop
    exit when v_limit is not null and edgeflow._slots_held(v_dep_key) >= v_limit;
    -- skip locked: a waiting run locked right now is being cancelled.
    perform 1 from edgeflow.runs where id = w.id for update skip locked;
    continue when not found;
    continue when exists (select 1 from edgeflow._run_key_slots(w.id) k
                           where edgeflow._slots_held(k.limit_key) >= k.slot_limit);
    insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
    select k.limit_key, w.id, w.id, edgeflow.now() from edgeflow._run_key_slots(w.id) k
    union all
    select v_dep_key, w.id, w.id, edgeflow.now() where v_limit is not null;
    insert into edgeflow.concurrency_key_turns as t (deployment_id, limit_key, turn)
    values (p_deployment_id, w.awaiting_slot,
            (select coalesce(max(turn), 0) + 1 from edgeflow.concurrency_key_turns
              where deployment_id = p_deployment_id))
    on conflict (deployment_id, limit_key) do update set turn = excluded.turn;
    update edgeflow.runs
       set awaiting_slot = null,
           status = case when w.scheduled_time > edgeflow.now() then 'SCHEDULED' else 'PENDING' end
     where id = w.id;
    if w.id is distinct from p_new_run then
      perform edgeflow._start_ready_steps(w.id);
    end if;
    v_admitted := v_admitted + 1;
  end loop;
  return v_admitted;
end
$function$;

-- from sql/functions/edgeflow._admit_waiting.sql
-- Give free slots of a deployment to its waiting runs, oldest first.
-- Returns how many runs were admitted.
CREATE OR REPLACE FUNCTION edgeflow._admit_waiting(p_deployment_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_key text := 'deployment:' || p_deployment_id;
  v_limit integer;
  v_run record;
  v_admitted integer := 0;
begin
  if exists (select 1 from edgeflow.deployments
              where id = p_deployment_id and jsonb_array_length(concurrency) > 0) then
    -- Per-key concurrency (issue 16): round robin across keys.
    return edgeflow._admit_keyed(p_deployment_id);
  end if;
  select concurrency_limit into v_limit from edgeflow.deployments where id = p_deployment_id;
  perform edgeflow._slot_lock(v_key);
  loop
    exit when v_limit is not null and edgeflow._slots_held(v_key) >= v_limit;
    -- skip locked: a waiting run locked right now is being cancelled.
    select id, scheduled_time into v_run from edgeflow.runs
     where deployment_id = p_deployment_id and awaiting_slot is not null
       and status in ('SCHEDULED', 'PENDING')
     order by created_at, id limit 1
       for update skip locked;
    exit when not found;
    if v_limit is not null then
      insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, v_run.id, v_run.id);
    end if;
    update edgeflow.runs
       set awaiting_slot = null,
           status = case when v_run.scheduled_time > edgeflow.now() then 'SCHEDULED' else 'PENDING' end
     where id = v_run.id;
    perform edgeflow._start_ready_steps(v_run.id);
    v_admitted := v_admitted + 1;
  end loop;
  return v_admitted;
end
$function$;

-- from sql/functions/edgeflow._complete_wait.sql
-- A WAITING step is over (its event came, its sleep or `continue` timeout
-- passed): it completes with `p_output`. The caller has locked the run and
-- deleted the wait's row. Returns the dependents that became ready.
CREATE OR REPLACE FUNCTION edgeflow._complete_wait(p_run_id uuid, p_slug text, p_output jsonb)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.step_states
     set status = 'COMPLETED', output = p_output, ended_at = edgeflow.now()
   where run_id = p_run_id and slug = p_slug and status = 'WAITING';
  if not found then
    return '{}';
  end if;
  return edgeflow._step_done(p_run_id,
                             (select flow_version_id from edgeflow.runs where id = p_run_id),
                             p_slug);
end
$function$;

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
          -- A waiting step (issue 16) will finish it.
          and not exists (select 1 from edgeflow.waits w where w.run_id = r.id)
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

-- from sql/functions/edgeflow._event_matches.sql
-- Does an event's payload satisfy a `match`: every JSON pointer of it names
-- a value equal to the one given (`{"/status": "ok", "/items/0/sku": "a1"}`)?
-- An empty or null match accepts every payload; "" points at the whole payload.
CREATE OR REPLACE FUNCTION edgeflow._event_matches(p_payload jsonb, p_match jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select coalesce(bool_and(
           p_payload #> (case when m.key = '' then '{}'::text[] else array(
             select replace(replace(s.seg, '~1', '/'), '~0', '~')
               from unnest(string_to_array(substr(m.key, 2), '/')) with ordinality as s(seg, ord)
              order by s.ord) end)
           is not distinct from m.value), true)
    from jsonb_each(case when jsonb_typeof(p_match) = 'object' then p_match else '{}' end) as m;
$function$;

-- from sql/functions/edgeflow._start_wait.sql
-- Start a step that waits (issue 16): `wait` for an event or `sleep`. It
-- holds no task, no worker slot and no lease: the step becomes WAITING and a
-- row of edgeflow.waits remembers what ends it. A `lookback` event already
-- received, or a sleep already over, completes it at once. Returns the
-- dependents that became ready (as _step_done does), or null when the run
-- failed here (a key template naming nothing).
--
-- An event wait takes the advisory lock of its event name and key, as
-- edgeflow.record_event does, so an event is either recorded before this
-- look back (and found by it) or after this wait is committed (and found by
-- edgeflow.resume_waits): never missed by both.
CREATE OR REPLACE FUNCTION edgeflow._start_wait(p_run_id uuid, p_slug text, p_spec jsonb)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  r record;
  v_ctx jsonb;
  v_key text;
  v_at timestamptz;
  v_payload jsonb;
begin
  select ru.parameters, fs.depends_on into r
    from edgeflow.runs ru
    join edgeflow.flow_steps fs on fs.flow_version_id = ru.flow_version_id and fs.slug = p_slug
   where ru.id = p_run_id;
  update edgeflow.step_states
     set status = 'WAITING', remaining_tasks = 0, total_tasks = 0, queued_at = v_now,
         started_at = v_now
   where run_id = p_run_id and slug = p_slug;
  update edgeflow.runs set status = 'RUNNING', started_at = coalesce(started_at, v_now)
   where id = p_run_id and status = 'PENDING';

  if not p_spec ? 'event' then
    v_at := case when p_spec ? 'until' then (p_spec ->> 'until')::timestamptz
                 else v_now + make_interval(secs => (p_spec ->> 'sleep')::double precision) end;
    if v_at <= v_now then
      return edgeflow._complete_wait(p_run_id, p_slug, null);
    end if;
    insert into edgeflow.waits (run_id, slug, timeout_at, on_timeout, created_at)
    values (p_run_id, p_slug, v_at, 'continue', v_now);
    return '{}';
  end if;

  v_ctx := jsonb_build_object('run', r.parameters, 'deps', (
    select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}') from edgeflow.step_states ss
     where ss.run_id = p_run_id and ss.slug = any(r.depends_on)));
  v_key := edgeflow._render_template(coalesce(p_spec ->> 'key', ''), v_ctx);
  if v_key is null then
    perform edgeflow._fail_run(p_run_id, p_slug, jsonb_build_object(
      'code', 'wait_key', 'message', format('the wait key "%s" refers to nothing in this run',
                                            p_spec ->> 'key')));
    return null;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.event:' || (p_spec ->> 'event') || '/' || v_key));
  if coalesce((p_spec ->> 'lookback')::integer, 0) > 0 then
    -- The latest matching event within the lookback (inbound_events_name_key).
    select e.payload into v_payload from edgeflow.inbound_events e
     where e.name = p_spec ->> 'event' and e.key = v_key
       and e.received_at >= v_now - make_interval(secs => (p_spec ->> 'lookback')::integer)
       and edgeflow._event_matches(e.payload, p_spec -> 'match')
     order by e.received_at desc limit 1;
    if found then
      return edgeflow._complete_wait(p_run_id, p_slug, v_payload);
    end if;
  end if;
  insert into edgeflow.waits (run_id, slug, event_name, event_key, match, timeout_at, on_timeout,
                              created_at)
  values (p_run_id, p_slug, p_spec ->> 'event', v_key, p_spec -> 'match',
          v_now + make_interval(secs => (p_spec ->> 'timeout')::integer),
          coalesce(p_spec ->> 'on_timeout', 'fail'), v_now);
  return '{}';
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
    perform edgeflow._cancel_queued_tasks(p_run_id);
  else
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
  return jsonb_build_object('run_id', p_run_id, 'changed', true,
    'status', (select status from edgeflow.runs where id = p_run_id));
end
$function$;

-- from sql/functions/edgeflow.cancel_on_event.sql
-- Cancel the live runs an event names through their deployment's
-- `cancel_on` entries ({event, key, match}): a run is cancelled when its
-- rendered key (`{{ run.order_id }}` against its parameters) equals the
-- event's key and the payload satisfies the match. Reads the live runs of
-- the deployments concerned only (runs_deployment_newest). Returns how many
-- runs were cancelled.
CREATE OR REPLACE FUNCTION edgeflow.cancel_on_event(p_event_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  v_run uuid;
  v_n integer := 0;
begin
  select name, key, payload, received_at into e
    from edgeflow.inbound_events where id = p_event_id;
  if not found then
    return 0;
  end if;
  for v_run in
    select distinct r.id
      from edgeflow.deployments d
      cross join lateral jsonb_array_elements(d.cancel_on) as c(entry)
      join edgeflow.runs r on r.deployment_id = d.id
     where jsonb_array_length(d.cancel_on) > 0
       and c.entry ->> 'event' = e.name
       and r.status in ('SCHEDULED', 'PENDING', 'RUNNING')
       and r.created_at <= e.received_at
       and edgeflow._render_template(coalesce(c.entry ->> 'key', ''),
                                     jsonb_build_object('run', r.parameters)) = e.key
       and edgeflow._event_matches(e.payload, c.entry -> 'match')
     order by r.id
  loop
    if (edgeflow.cancel_run(v_run) ->> 'changed')::boolean then
      update edgeflow.runs
         set error = coalesce(error, '{}') || jsonb_build_object(
               'code', 'cancelled_by_event', 'event', p_event_id,
               'message', format('cancelled by event "%s" with key "%s"', e.name, e.key))
       where id = v_run;
      v_n := v_n + 1;
    end if;
  end loop;
  return v_n;
end
$function$;

-- from sql/functions/edgeflow.debounce_done.sql
-- The run of a debounced burst started: forget the burst, unless a newer
-- event has extended it meanwhile (then it stays, with that event).
CREATE OR REPLACE FUNCTION edgeflow.debounce_done(p_deployment_id uuid, p_index integer, p_event_id uuid)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  delete from edgeflow.trigger_debounces
   where deployment_id = p_deployment_id and trigger_index = p_index and event_id = p_event_id;
$function$;

-- from sql/functions/edgeflow.debounce_trigger.sql
-- A debounced trigger saw an event: its burst for this key now ends
-- `p_seconds` after this event, and its run gets this event's payload. An
-- event older than the one kept (processed again late) changes nothing.
CREATE OR REPLACE FUNCTION edgeflow.debounce_trigger(p_deployment_id uuid, p_index integer, p_event_id uuid, p_seconds integer)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
begin
  select key, received_at into e from edgeflow.inbound_events where id = p_event_id;
  insert into edgeflow.trigger_debounces as b (deployment_id, trigger_index, key, event_id,
                                              fire_at)
  values (p_deployment_id, p_index, e.key, p_event_id,
          e.received_at + make_interval(secs => p_seconds))
  on conflict (deployment_id, trigger_index, key) do update
     set event_id = excluded.event_id, fire_at = excluded.fire_at
   where coalesce((select k.received_at from edgeflow.inbound_events k where k.id = b.event_id)
                  <= e.received_at, true);
end
$function$;

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
    'paused', d.paused, 'job_variables', d.job_variables,
    'triggers', d.triggers, 'cancel_on', d.cancel_on, 'concurrency', d.concurrency,
    'schedules', coalesce((
      select jsonb_agg(edgeflow.schedule_entry_json(s, d.paused) order by s.position)
        from edgeflow.schedules s where s.deployment_id = d.id), '[]'::jsonb),
    'created_at', edgeflow.iso(d.created_at), 'updated_at', edgeflow.iso(d.updated_at))
    from edgeflow.deployments d where d.id = p_id;
$function$;

-- from sql/functions/edgeflow.inbound_event_json.sql
-- The document of an event sent to POST /trigger/events.
CREATE OR REPLACE FUNCTION edgeflow.inbound_event_json(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', e.id, 'name', e.name, 'key', e.key, 'payload', e.payload, 'dedupe_id', e.dedupe_id,
    'received_at', edgeflow.iso(e.received_at), 'processed_at', edgeflow.iso(e.processed_at),
    'runs_resumed', e.runs_resumed, 'runs_started', e.runs_started)
    from edgeflow.inbound_events e where e.id = p_id;
$function$;

-- from sql/functions/edgeflow.due_debounces.sql
-- Debounced bursts whose quiet time is over (by edgeflow.now()), oldest
-- first: [{deployment_id, deployment, index, parameters, event}]. Not
-- deleted here: shared/engine/event_triggers.ts starts the run (idempotent per
-- event id), then edgeflow.debounce_done removes the entry.
CREATE OR REPLACE FUNCTION edgeflow.due_debounces(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'deployment_id', b.deployment_id, 'deployment', d.name, 'index', b.trigger_index,
           'parameters', coalesce(d.triggers -> b.trigger_index -> 'parameters', '{}'),
           'event', edgeflow.inbound_event_json(b.event_id))
         order by b.fire_at), '[]')
    from (select * from edgeflow.trigger_debounces
           where fire_at <= edgeflow.now() order by fire_at limit p_limit) b
    join edgeflow.deployments d on d.id = b.deployment_id;
$function$;

-- from sql/functions/edgeflow.event_retention.sql
-- How long events sent to POST /trigger/events are kept (and their dedupe
-- ids remembered): `edgeflow.event_retention` as a Postgres setting in
-- seconds (`alter database … set edgeflow.event_retention = 86400`), default
-- 7 days. A wait's lookback cannot reach further back than this.
CREATE OR REPLACE FUNCTION edgeflow.event_retention()
 RETURNS interval
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v text := pg_catalog.current_setting('edgeflow.event_retention', true);
begin
  return make_interval(secs => case when v ~ '^\s*[0-9]{1,9}\s*$' then v::integer
                                    else 7 * 86400 end);
end
$function$;

-- from sql/functions/edgeflow.event_triggers.sql
-- The deployment triggers an event fires: one row per `triggers` entry
-- ({event, match, parameters, debounce}) of a deployment whose event is the
-- event's name and whose match the payload satisfies, in deployment name
-- and entry order. Starting the runs (rendering the parameters, checking
-- them against the flow's schema) is shared/engine/event_triggers.ts's.
CREATE OR REPLACE FUNCTION edgeflow.event_triggers(p_event_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'deployment_id', d.id, 'deployment', d.name, 'index', t.ord - 1,
           'parameters', coalesce(t.entry -> 'parameters', '{}'),
           'debounce', t.entry -> 'debounce')
         order by d.name, t.ord), '[]')
    from edgeflow.inbound_events e
    join edgeflow.deployments d on jsonb_array_length(d.triggers) > 0
    cross join lateral jsonb_array_elements(d.triggers) with ordinality as t(entry, ord)
   where e.id = p_event_id and t.entry ->> 'event' = e.name
     and edgeflow._event_matches(e.payload, t.entry -> 'match');
$function$;

-- from sql/functions/edgeflow.fire_wait_timeouts.sql
-- The tick's part of waits: every wait whose time has come (by
-- edgeflow.now()) ends, at most `p_limit` per pass, oldest first. A sleep,
-- or a wait with on_timeout "continue", completes with output null; any
-- other wait fails its step and run. A run locked right now (an event
-- resuming it) is skipped and looked at again next tick; the delete of the
-- wait's row decides between a timeout and a racing event, so the loser does
-- nothing. Returns how many waits ended.
CREATE OR REPLACE FUNCTION edgeflow.fire_wait_timeouts(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := edgeflow.now();
  w record;
  d record;
  v_ready text[];
  v_n integer := 0;
begin
  for w in
    select run_id, slug from edgeflow.waits
     where timeout_at <= v_now order by timeout_at limit p_limit
  loop
    perform 1 from edgeflow.runs where id = w.run_id for update skip locked;
    continue when not found;
    delete from edgeflow.waits
     where run_id = w.run_id and slug = w.slug and timeout_at <= v_now
    returning event_name, event_key, on_timeout, created_at, timeout_at into d;
    continue when not found;
    if d.on_timeout = 'fail' then
      perform edgeflow._fail_run(w.run_id, w.slug, jsonb_build_object(
        'code', 'wait_timeout',
        'message', format('no event "%s" with key "%s" arrived within %s seconds',
                          d.event_name, d.event_key,
                          extract(epoch from d.timeout_at - d.created_at)::bigint)));
    else
      v_ready := edgeflow._complete_wait(w.run_id, w.slug, null);
      if cardinality(v_ready) > 0 then
        perform edgeflow._start_steps(w.run_id, v_ready);
      end if;
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$function$;

-- from sql/functions/edgeflow.run_status_shown.sql
-- The status a run document shows: WAITING for a RUNNING run whose only
-- live work is waiting steps (issue 16). Stored, such a run stays RUNNING,
-- the state every claim, result and sweep path treats as live.
CREATE OR REPLACE FUNCTION edgeflow.run_status_shown(p_run_id uuid, p_status text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select case when p_status = 'RUNNING'
                   and exists (select 1 from edgeflow.waits w where w.run_id = p_run_id)
                   and not exists (select 1 from edgeflow.tasks t where t.run_id = p_run_id
                                      and t.status in ('QUEUED', 'RUNNING'))
              then 'WAITING' else p_status end;
$function$;

-- from sql/functions/edgeflow.list_runs.sql
-- list_runs (0010) again, same signature and output, reading through the
-- index that matches its filters.
--
-- Why: 0010's single statement says `(p_status is null or r.status =
-- p_status)`, which the planner cannot turn into an index condition, so every
-- filter was applied while walking runs_newest. A status or flow with few
-- runs then read the whole index: 25 ms at 100,000 runs for a status with
-- none, growing with the table (measured for the dashboard, tests/bench/ui.ts).
-- One static statement per leading filter lets each use its own index
-- (runs_deployment_newest, runs_status_newest, runs_flow_newest, runs_newest).
--
-- The cursor is always a row comparison, `(created_at, id) < (at, id)`, with
-- +infinity standing in for "no cursor": an index condition, so a page deep
-- in the list costs what the first page costs.
CREATE OR REPLACE FUNCTION edgeflow.list_runs(p_status text, p_flow text, p_deployment text, p_limit integer, p_before_at timestamp with time zone, p_before_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_at timestamptz := coalesce(p_before_at, 'infinity');
  v_id uuid := coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  v_dep uuid;
  v_ids uuid[];
begin
  if p_deployment is not null then
    select id into v_dep from edgeflow.deployments where name = p_deployment;
    if v_dep is null then
      return '[]';
    end if;
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.deployment_id = v_dep and (r.created_at, r.id) < (v_at, v_id)
         and (p_status is null or r.status = p_status)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.deployment_id, r.created_at desc, r.id desc limit p_limit);
  elsif p_status is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.status = p_status and (r.created_at, r.id) < (v_at, v_id)
         and (p_flow is null or r.flow_name = p_flow)
       order by r.status, r.created_at desc, r.id desc limit p_limit);
  elsif p_flow is not null then
    v_ids := array(
      select r.id from edgeflow.runs r
       where r.flow_name = p_flow and (r.created_at, r.id) < (v_at, v_id)
       order by r.flow_name, r.created_at desc, r.id desc limit p_limit);
  else
    v_ids := array(
      select r.id from edgeflow.runs r
       where (r.created_at, r.id) < (v_at, v_id)
       order by r.created_at desc, r.id desc limit p_limit);
  end if;

  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', r.id, 'status', edgeflow.run_status_shown(r.id, r.status), 'flow', r.flow_name, 'version', r.version,
             'deployment', d.name, 'parameters', r.parameters, 'error', r.error,
             'scheduled_time', edgeflow.iso(r.scheduled_time),
             'created_at', edgeflow.iso(r.created_at), 'started_at', edgeflow.iso(r.started_at),
             'ended_at', edgeflow.iso(r.ended_at),
             'cursor_at', to_char(r.created_at at time zone 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           order by r.created_at desc, r.id desc), '[]')
      from edgeflow.runs r
      left join edgeflow.deployments d on d.id = r.deployment_id
     where r.id = any(v_ids));
end
$function$;

-- from sql/functions/edgeflow.prune_inbound_events.sql
-- Delete up to `p_limit` events older than edgeflow.event_retention(),
-- oldest first (inbound_events_received). Returns how many.
CREATE OR REPLACE FUNCTION edgeflow.prune_inbound_events(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_n integer;
begin
  with old as (
    select id from edgeflow.inbound_events
     where received_at < edgeflow.now() - edgeflow.event_retention()
     order by received_at limit p_limit
       for update skip locked
  )
  delete from edgeflow.inbound_events e using old where e.id = old.id;
  get diagnostics v_n = row_count;
  return v_n;
end
$function$;

-- from sql/functions/edgeflow.record_event.sql
-- Record an event sent to POST /trigger/events. Returns {event, created}:
-- created false (and the first event) when `p_dedupe_id` was seen before.
-- Holds the advisory lock of the event's name and key until commit, as a
-- wait beginning does (edgeflow._start_wait): see there. Nothing else is
-- locked here, so this transaction waits on no run; the waits, cancel_on and
-- triggers the event concerns are processed after it commits
-- (shared/engine/events.ts), and again by the tick if that never happened.
CREATE OR REPLACE FUNCTION edgeflow.record_event(p_name text, p_key text, p_payload jsonb, p_dedupe_id text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('edgeflow.event:' || p_name || '/' || coalesce(p_key, '')));
  insert into edgeflow.inbound_events (name, key, payload, dedupe_id, received_at)
  values (p_name, coalesce(p_key, ''), p_payload, p_dedupe_id, edgeflow.now())
  on conflict (dedupe_id) do nothing
  returning id into v_id;
  if v_id is null then
    select id into v_id from edgeflow.inbound_events where dedupe_id = p_dedupe_id;
    return jsonb_build_object('event', edgeflow.inbound_event_json(v_id), 'created', false);
  end if;
  return jsonb_build_object('event', edgeflow.inbound_event_json(v_id), 'created', true);
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
                                   start_delay, args, deployment, wait)
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
              when st ? 'sleep' then st -> 'sleep' end
    from jsonb_array_elements(p_def -> 'steps') with ordinality as s(st, ord);

  return jsonb_build_object('id', v_id, 'name', v_name, 'version', v_version, 'hash', v_hash,
                            'created', true);
end
$function$;

-- from sql/functions/edgeflow.resume_waits.sql
-- The waits an event ends: every open wait for its name and key, begun no
-- later than the event arrived, whose `match` the payload satisfies. Each
-- completes with the payload as its output and starts the steps that became
-- ready. Runs are locked in id order, then the wait's row is deleted: the
-- delete decides, so a racing timeout (edgeflow.fire_wait_timeouts), a
-- second delivery of this event or another event ends a wait at most once.
-- Returns how many waits this call ended.
CREATE OR REPLACE FUNCTION edgeflow.resume_waits(p_event_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  w record;
  v_ready text[];
  v_n integer := 0;
begin
  select name, key, payload, received_at into e
    from edgeflow.inbound_events where id = p_event_id;
  if not found then
    return 0;
  end if;
  for w in
    select wt.run_id, wt.slug from edgeflow.waits wt
     where wt.event_name = e.name and wt.event_key = e.key and wt.created_at <= e.received_at
       and edgeflow._event_matches(e.payload, wt.match)
     order by wt.run_id, wt.slug
  loop
    perform 1 from edgeflow.runs where id = w.run_id for update;
    delete from edgeflow.waits where run_id = w.run_id and slug = w.slug;
    continue when not found;
    v_ready := edgeflow._complete_wait(w.run_id, w.slug, e.payload);
    if cardinality(v_ready) > 0 then
      perform edgeflow._start_steps(w.run_id, v_ready);
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
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
    'idempotency_key', r.idempotency_key,
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
                                         paused, job_variables, triggers, cancel_on,
                                         concurrency)
  values (p ->> 'name', p ->> 'flow',
          case when jsonb_typeof(p -> 'version') = 'number' then (p ->> 'version')::int end,
          p ->> 'pool', p ->> 'queue', p ->> 'description', coalesce(p -> 'parameters', '{}'),
          array(select jsonb_array_elements_text(coalesce(p -> 'tags', '[]'))),
          (p ->> 'concurrency_limit')::int, coalesce(p ->> 'collision_strategy', 'enqueue'),
          coalesce((p ->> 'paused')::boolean, false), coalesce(p -> 'job_variables', '{}'),
          coalesce(p -> 'triggers', '[]'), coalesce(p -> 'cancel_on', '[]'),
          coalesce(p -> 'concurrency', '[]'))
  on conflict (name) do update
     set flow_name = excluded.flow_name, version_pin = excluded.version_pin,
         pool = excluded.pool, queue = excluded.queue, description = excluded.description,
         parameters = excluded.parameters, tags = excluded.tags,
         concurrency_limit = excluded.concurrency_limit,
         collision_strategy = excluded.collision_strategy, paused = excluded.paused,
         job_variables = excluded.job_variables, triggers = excluded.triggers,
         cancel_on = excluded.cancel_on, concurrency = excluded.concurrency,
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
  insert into edgeflow.events (run_id, kind, from_status, to_status, error)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end);
  perform edgeflow._notify_event(new.id);
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

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();
