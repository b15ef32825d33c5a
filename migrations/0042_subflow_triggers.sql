-- Subflows, part 3: the two ends, as row triggers on runs (like 0015's slot
-- releases: every way a run ends — a worker's result, a cancel, the sweep,
-- a failing sibling step, code not written yet — is covered, and the engine
-- functions stay as they were).
--
-- 1. A child run ends → its parent task completes with the child's output
--    or fails (retried with backoff unless the child was cancelled).
-- 2. A parent run is cancelled or ends → its running subflow tasks are
--    cancelled, and so are their child runs.
--
-- Lock order across runs (see 0040's _subflow_child_ended): blocking locks
-- are taken bottom-up, child before parent. (1) holds the child and waits
-- for the parent. (2) holds the parent and takes each child with skip
-- locked, never waiting: a child locked right now is either ending (then
-- (1) finds the parent task no longer RUNNING and does nothing) or busy
-- with a step, and the tick cancels it a moment later (0043). So (1) and (2)
-- cannot deadlock. The trigger of (1) is named to fire before 0015's
-- runs_after_end (triggers fire in name order): the parent's row lock is
-- then taken before the deployment slot's advisory lock, the order every
-- run start has too (parent row, then the child's slot lock in _run_admit).
-- One cycle Postgres can still see is the lease sweep (0018), which locks a
-- batch of runs in id order and so may hold a parent while a child's end
-- waits for it; the deadlock detector aborts one of them and both are
-- retried (the database client retries 40P01; the sweep runs every tick).

create function edgeflow._subflow_child_end_trigger()
returns trigger language plpgsql set search_path = '' as $$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$$;
create trigger runs_after_child_end after update of status on edgeflow.runs
  for each row
  when (new.parent_task_id is not null
        and new.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
        and old.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
  execute function edgeflow._subflow_child_end_trigger();

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
create function edgeflow._subflow_parent_stopped()
returns trigger language plpgsql set search_path = '' as $$
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
$$;
create trigger runs_stop_children after update of status on edgeflow.runs
  for each row
  when (new.status in ('CANCELLING', 'CANCELLED', 'FAILED', 'CRASHED')
        and old.status is distinct from new.status)
  execute function edgeflow._subflow_parent_stopped();
