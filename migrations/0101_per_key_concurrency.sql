-- per_key_concurrency: written by `deno task sql:migration` from what changed in sql/.

-- Per-key concurrency of deployments (issue 16).
create table edgeflow.concurrency_key_turns (
  deployment_id uuid not null,
  limit_key text not null,
  turn bigint not null,
  constraint concurrency_key_turns_pkey PRIMARY KEY (deployment_id, limit_key),
  constraint concurrency_key_turns_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);

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
           status = case when v_run.scheduled_time > now() then 'SCHEDULED' else 'PENDING' end
     where id = v_run.id;
    perform edgeflow._start_ready_steps(v_run.id);
    v_admitted := v_admitted + 1;
  end loop;
  return v_admitted;
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
       set status = 'CANCELLED', ended_at = now(),
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
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = now()
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
