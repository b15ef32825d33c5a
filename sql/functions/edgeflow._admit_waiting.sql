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
      insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
      values (v_key, v_run.id, v_run.id, edgeflow.now());
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
