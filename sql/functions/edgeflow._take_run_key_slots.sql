-- A finished run of a deployment with per-key `concurrency` starts again
-- (edgeflow.retry_run, edgeflow._resurrect): it must hold its key slots
-- again, as at admission (edgeflow._admit_keyed). Takes one slot of each key
-- it renders (from `p_parameters` when given: a retry may replace them) and
-- returns true, or takes nothing and returns false when a key is full. Under
-- the deployment's slot lock, as every admission by key is. A deployment
-- without per-key concurrency: true, nothing taken.
CREATE OR REPLACE FUNCTION edgeflow._take_run_key_slots(p_run_id uuid, p_parameters jsonb DEFAULT NULL::jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r record;
  v_keys text[];
  v_limits integer[];
begin
  select ru.id, ru.deployment_id, coalesce(p_parameters, ru.parameters) as parameters,
         d.concurrency
    into r
    from edgeflow.runs ru join edgeflow.deployments d on d.id = ru.deployment_id
   where ru.id = p_run_id;
  if not found or jsonb_array_length(coalesce(r.concurrency, '[]')) = 0 then
    return true;
  end if;
  perform edgeflow._slot_lock('deployment:' || r.deployment_id);
  select array_agg('dkey:' || r.deployment_id || '#' || (c.ord - 1) || ':'
                     || coalesce(edgeflow._render_template(c.entry ->> 'key',
                                   jsonb_build_object('run', r.parameters)), '') order by c.ord),
         array_agg((c.entry ->> 'limit')::integer order by c.ord)
    into v_keys, v_limits
    from jsonb_array_elements(r.concurrency) with ordinality as c(entry, ord);
  if exists (select 1 from unnest(v_keys, v_limits) as k(limit_key, slot_limit)
              where edgeflow._slots_held(k.limit_key) >= k.slot_limit) then
    return false;
  end if;
  insert into edgeflow.slots (limit_key, holder, run_id, acquired_at)
  select k.limit_key, p_run_id, p_run_id, edgeflow.now()
    from unnest(v_keys) as k(limit_key);
  return true;
end
$function$;
