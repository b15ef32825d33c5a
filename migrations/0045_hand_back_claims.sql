-- Handing a claim back: a long-poll heartbeat whose client disconnected
-- while it was claiming cannot deliver the tasks it claimed. Waiting for
-- their leases to expire would park them for a whole lease and burn an
-- attempt (a rolling restart of workers would crash `max_attempts: 1` runs),
-- so the server returns them at once, as if the claim had never happened:
-- QUEUED, no lease, the attempt not counted, the concurrency slots freed
-- (trigger `tasks_release_slots`, 0015) and the message visible again now.
--
-- Only a claim still current is handed back (the task RUNNING under exactly
-- that lease): a lease that already expired and was claimed again, or a task
-- that ended meanwhile, is left alone. A task that was a re-claim of an
-- expired lease goes back to QUEUED with the crashed attempt still counted,
-- which is what the sweep would have done with it. Its step goes back to
-- QUEUED when no task of the step has started any attempt.

create function edgeflow.hand_back_claims(p_claims jsonb)
returns integer language plpgsql set search_path = '' as $$
declare
  t record;
  v_count integer := 0;
begin
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
           lease_expires_at = null, worker = null, available_at = now(),
           started_at = case when attempts > 1 then started_at end
     where id = t.id;
    perform edgeflow._requeue(t.id, now());
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
$$;
