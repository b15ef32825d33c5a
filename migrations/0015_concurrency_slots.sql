-- Concurrency limits: the slots table and the triggers that release slots.
--
-- A slot is a row (limit key, holder). Task-level limits (tags, pools,
-- queues) are held by a task from its claim; the deployment limit on runs is
-- held by a run from its admission. Counting rows under the limit's lock is
-- the check; deleting rows is the release.
--
-- Why triggers release slots, not the engine functions: a slot must go in
-- the same transaction as the state change that ends its holder, whichever
-- function makes it (complete, fail, cancel, the sweep, a run failing while
-- a sibling task runs, code not written yet). A row trigger on the status
-- change cannot be forgotten by a future code path; the engine functions
-- stay as they were. The WHEN clauses are evaluated by the executor, so
-- tasks that hold no slot (`holds_slots` false) never enter PL/pgSQL.
--
-- No foreign keys on `slots`: a key check would take a KEY SHARE lock on the
-- run row from inside claims, which conflicts with the FOR UPDATE of
-- complete/fail (see 0006 and 0030). Holders are removed by the triggers.

create table edgeflow.concurrency_limits (
  tag text primary key,
  "limit" integer not null check ("limit" >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- limit_key: 'tag:<tag>', 'pool:<pool>', 'queue:<pool>/<queue>' (task
-- holders) or 'deployment:<id>' (run holders). holder: task id or run id.
create table edgeflow.slots (
  limit_key text not null,
  holder uuid not null,
  run_id uuid not null,
  acquired_at timestamptz not null default now(),
  primary key (limit_key, holder)
);
create index slots_holder on edgeflow.slots (holder);
create index slots_run on edgeflow.slots (run_id);

alter table edgeflow.tasks add column holds_slots boolean not null default false;
-- A run waiting for a deployment slot: SCHEDULED, roots not enqueued.
alter table edgeflow.runs add column awaiting_slot text;
-- Lazarus: how often the run was resumed after crashing, and whether the
-- sweep should resume it now.
alter table edgeflow.runs add column resurrections integer not null default 0;
alter table edgeflow.runs add column lazarus_due boolean not null default false;
-- Waiting runs start in creation order.
create index runs_awaiting on edgeflow.runs (deployment_id, created_at, id)
  where awaiting_slot is not null;
create index runs_lazarus_due on edgeflow.runs (ended_at) where lazarus_due;

-- Serialise slot counting for one limit key until the transaction ends.
create function edgeflow._slot_lock(p_key text)
returns void language plpgsql set search_path = '' as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('edgeflow.slot:' || p_key));
end
$$;

create function edgeflow._slots_held(p_key text)
returns integer language plpgsql stable set search_path = '' as $$
begin
  return (select count(*)::integer from edgeflow.slots where limit_key = p_key);
end
$$;

-- A task leaving RUNNING (completed, failed, retried, expired, cancelled)
-- gives its slots back.
create function edgeflow._task_release_slots()
returns trigger language plpgsql set search_path = '' as $$
begin
  delete from edgeflow.slots where holder = new.id;
  new.holds_slots := false;
  return new;
end
$$;
create trigger tasks_release_slots before update of status on edgeflow.tasks
  for each row when (old.holds_slots and new.status is distinct from 'RUNNING')
  execute function edgeflow._task_release_slots();

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
create function edgeflow._run_before_end()
returns trigger language plpgsql set search_path = '' as $$
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
$$;
-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
create trigger runs_before_end before update of status on edgeflow.runs
  for each row
  when (new.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
        and old.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
        and (new.status = 'CRASHED' or old.awaiting_slot is not null))
  execute function edgeflow._run_before_end();

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
create function edgeflow._run_after_end()
returns trigger language plpgsql set search_path = '' as $$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null and ('deployment:' || new.deployment_id) = any(v_freed) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$$;
create trigger runs_after_end after update of status on edgeflow.runs
  for each row
  when (new.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
        and old.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
  execute function edgeflow._run_after_end();
