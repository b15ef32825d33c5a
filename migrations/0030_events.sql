-- Run events: every state change of a run, a step or a task, in commit
-- order, for the dashboard, `run --watch` and users' own code
-- (GET /trigger/runs/:id/events, plain JSON or Server-Sent Events).
--
-- Recorded by row triggers rather than by the engine functions, so the
-- engine stays one place to read state transitions and nobody has to
-- remember to log. The triggers' WHEN clause is evaluated by the executor
-- itself: updates that leave `status` alone (lease extensions, dependency
-- countdowns) never enter PL/pgSQL. Cost (tests/bench/ui.ts,
-- `ui.events.trigger_overhead`, 3-step chains, 4 clients claiming and
-- completing one task per call): 0.92 x the steps/s without the triggers,
-- about five event rows per step.

create table edgeflow.events (
  id bigint generated always as identity primary key,
  -- No foreign key to runs: its check would take a KEY SHARE lock on the run
  -- row from inside claims, which lock no run row today (see 0006).
  run_id uuid not null,
  kind text not null check (kind in ('run', 'step', 'task')),
  step text,
  task uuid,
  attempt integer,
  from_status text,
  to_status text not null,
  -- clock_timestamp: events of one transaction keep their real spacing.
  at timestamptz not null default clock_timestamp(),
  error jsonb
);
-- A run's events after a given id: the only read (polls, SSE resumption).
create index events_run on edgeflow.events (run_id, id);

-- Listeners (users' own code, or an SSE server holding a LISTEN connection)
-- can hear the run id on channel `edgeflow_events` and read the events
-- table. Off unless `edgeflow.notify_events` is 'on' (alter database … set
-- edgeflow.notify_events = on): a transaction that notified serialises its
-- commit with every other notifying commit on a global lock: 0.61 x the
-- steps/s without triggers in the same benchmark, against 0.92 x with NOTIFY
-- off. The built-in SSE stream polls instead. Postgres folds a transaction's
-- identical notifications into one.
create function edgeflow._notify_event(p_run_id uuid)
returns void language plpgsql set search_path = '' as $$
begin
  if pg_catalog.current_setting('edgeflow.notify_events', true) = 'on' then
    perform pg_catalog.pg_notify('edgeflow_events', p_run_id::text);
  end if;
end
$$;

create function edgeflow._run_event()
returns trigger language plpgsql set search_path = '' as $$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end);
  perform edgeflow._notify_event(new.id);
  return null;
end
$$;

create function edgeflow._step_event()
returns trigger language plpgsql set search_path = '' as $$
begin
  insert into edgeflow.events (run_id, kind, step, from_status, to_status, error)
  values (new.run_id, 'step', new.slug, old.status, new.status,
          case when new.status = 'FAILED' then new.error end);
  perform edgeflow._notify_event(new.run_id);
  return null;
end
$$;

-- A task going RUNNING → QUEUED is a failed attempt waiting for its retry
-- (or a lost lease): its error belongs to the event, like a final FAILED.
create function edgeflow._task_event()
returns trigger language plpgsql set search_path = '' as $$
begin
  insert into edgeflow.events (run_id, kind, step, task, attempt, from_status, to_status, error)
  values (new.run_id, 'task', new.slug, new.id, new.attempts, old.status, new.status,
          case when new.status = 'FAILED' or (old.status = 'RUNNING' and new.status = 'QUEUED')
               then new.error end);
  perform edgeflow._notify_event(new.run_id);
  return null;
end
$$;

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
create trigger events_run_insert after insert on edgeflow.runs
  for each row execute function edgeflow._run_event();
create trigger events_run_update after update of status on edgeflow.runs
  for each row when (old.status is distinct from new.status)
  execute function edgeflow._run_event();
create trigger events_step_update after update of status on edgeflow.step_states
  for each row when (old.status is distinct from new.status)
  execute function edgeflow._step_event();
create trigger events_task_update after update of status on edgeflow.tasks
  for each row when (old.status is distinct from new.status)
  execute function edgeflow._task_event();

-- A run's events after `p_after` (at most `p_limit`), its status, and
-- `last_id`: where the next read should resume. Read in one snapshot.
--
-- Ids are handed out at insert, not at commit: a claim (which takes no run
-- lock) and another transition of the same run can commit in the opposite
-- order of their ids, so an event may become visible just after a later one.
-- `last_id` therefore stops short of events younger than 5 s, which the next
-- read returns again (readers de-duplicate by id), unless the run is final
-- (its last transition held the run lock, so nothing of it is in flight) or
-- the page is full (a backlog is read through). Null when there is no run.
create function edgeflow.run_events(p_run_id uuid, p_after bigint, p_limit integer)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'events', coalesce(jsonb_agg(jsonb_build_object(
                'id', e.id, 'run_id', e.run_id, 'kind', e.kind, 'step', e.step, 'task', e.task,
                'attempt', e.attempt, 'from', e.from_status, 'to', e.to_status,
                'at', edgeflow.iso(e.at), 'error', e.error) order by e.id)
              filter (where e.id is not null), '[]'),
    'last_id', case
      when r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') or count(e.id) >= p_limit
        then coalesce(max(e.id), p_after)
      else coalesce(min(e.id) filter (where e.at > clock_timestamp() - interval '5 seconds') - 1,
                    max(e.id), p_after)
      end)
    from edgeflow.runs r
    left join lateral (
      select * from edgeflow.events ev
       where ev.run_id = r.id and ev.id > p_after
       order by ev.id limit p_limit) e on true
   where r.id = p_run_id
   group by r.id, r.status;
$$;
