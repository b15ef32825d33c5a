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
