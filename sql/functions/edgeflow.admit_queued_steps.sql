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
