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
