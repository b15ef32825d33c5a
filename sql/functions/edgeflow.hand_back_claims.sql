-- Give claimed tasks back (their claim's answer could not be delivered):
-- queued again, visible now, the attempt not counted. A step goes back to
-- QUEUED with its task only when none of its other tasks has started.
--
-- Lock order, as a completion's (complete_tasks, _lock_for_result): the runs
-- by id, then the tasks. Each task's siblings are then locked FOR SHARE, which
-- waits for a claim of theirs still in flight: without the wait a sibling
-- whose claim had not committed looked QUEUED, the step went back to QUEUED
-- while that sibling ran, and its completion later logged RUNNING →
-- COMPLETED for a step that was QUEUED (tests/engine/hand_back_race_test.ts).
-- A claim skips a task it finds locked (for update skip locked), so one that
-- comes after this lock leaves the sibling for the next claim. Two hand-backs
-- of one run queue on the run's lock instead of each holding its own task
-- and waiting for the other's.
CREATE OR REPLACE FUNCTION edgeflow.hand_back_claims(p_claims jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_count integer := 0;
begin
  perform 1
     from edgeflow.runs r
    where r.id in (select tk.run_id
                     from jsonb_array_elements(coalesce(p_claims, '[]')) c
                     join edgeflow.tasks tk on tk.id = (c ->> 'task')::uuid)
    order by r.id
      for update of r;
  for t in
    select tk.id, tk.run_id, tk.slug, tk.queue_name, tk.msg_id
      from jsonb_array_elements(coalesce(p_claims, '[]')) c
      join edgeflow.tasks tk on tk.id = (c ->> 'task')::uuid
     where tk.status = 'RUNNING' and tk.lease = (c ->> 'lease')::uuid
     order by tk.id
       for update of tk
  loop
    update edgeflow.tasks
       set status = 'QUEUED', attempts = greatest(attempts - 1, 0), lease = null,
           lease_expires_at = null, worker = null, available_at = edgeflow.now(),
           started_at = case when attempts > 1 then started_at end
     where id = t.id;
    perform edgeflow._requeue(t.id, edgeflow.now());
    perform 1
       from edgeflow.tasks o
      where o.run_id = t.run_id and o.slug = t.slug and o.id <> t.id
      order by o.id
        for share of o;
    update edgeflow.step_states ss
       set status = 'QUEUED', started_at = null
     where ss.run_id = t.run_id and ss.slug = t.slug and ss.status = 'RUNNING'
       and not exists (select 1 from edgeflow.tasks o
                        where o.run_id = t.run_id and o.slug = t.slug
                          and (o.status <> 'QUEUED' or o.attempts > 0));
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$function$;
