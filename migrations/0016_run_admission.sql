-- A deployment's concurrency_limit on runs, and the objects that set limits.
--
-- A run of a limited deployment takes a 'deployment:<id>' slot when it is
-- created (the trigger below, so every way of starting a run is covered:
-- webhook, ad hoc, schedules, subflows). With no slot free it is CANCELLED
-- at once (collision_strategy cancel_new) or waits (enqueue): SCHEDULED,
-- `awaiting_slot` set, root steps not enqueued, so no worker sees it. The
-- transaction that frees a slot (any run end, see 0015) starts the oldest
-- waiting run. Counting happens under the key's advisory lock rather than a
-- FOR UPDATE of the deployment row: every run insert holds a KEY SHARE lock
-- on that row (the foreign key), and two inserts upgrading it would deadlock.

-- Start the steps of a run that are ready: PENDING with no dependency left.
-- For a new run these are its roots; for a resumed one, its unfinished steps.
create function edgeflow._start_ready_steps(p_run_id uuid)
returns void language plpgsql set search_path = '' as $$
begin
  perform edgeflow._start_steps(p_run_id, array(
    select slug from edgeflow.step_states
     where run_id = p_run_id and status = 'PENDING' and remaining_deps = 0
     order by step_index));
end
$$;

-- Give free slots of a deployment to its waiting runs, oldest first.
-- Returns how many runs were admitted.
create function edgeflow._admit_waiting(p_deployment_id uuid)
returns integer language plpgsql set search_path = '' as $$
declare
  v_key text := 'deployment:' || p_deployment_id;
  v_limit integer;
  v_run record;
  v_admitted integer := 0;
begin
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
      insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, v_run.id, v_run.id);
    end if;
    update edgeflow.runs
       set awaiting_slot = null,
           status = case when v_run.scheduled_time > now() then 'SCHEDULED' else 'PENDING' end
     where id = v_run.id;
    perform edgeflow._start_ready_steps(v_run.id);
    v_admitted := v_admitted + 1;
  end loop;
  return v_admitted;
end
$$;

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
create function edgeflow._run_admit()
returns trigger language plpgsql set search_path = '' as $$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy into d
    from edgeflow.deployments where id = new.deployment_id;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, new.id, new.id);
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$$;
create trigger runs_admit after insert on edgeflow.runs
  for each row when (new.deployment_id is not null)
  execute function edgeflow._run_admit();

-- Raising (or removing) a deployment's limit starts waiting runs at once.
create function edgeflow._deployment_limit_changed()
returns trigger language plpgsql set search_path = '' as $$
begin
  perform edgeflow._admit_waiting(new.id);
  return null;
end
$$;
create trigger deployments_limit_changed after update of concurrency_limit
  on edgeflow.deployments
  for each row when (old.concurrency_limit is distinct from new.concurrency_limit)
  execute function edgeflow._deployment_limit_changed();

-- Steps of a run that waits for its slot, or that ended at birth
-- (cancel_new), do not start. The engine's own _start_steps is kept under a
-- new name and called through this guard, so every caller (start_run,
-- complete_task, later migrations' callers) goes through it. A later
-- migration that redefines _start_steps must keep this guard.
alter function edgeflow._start_steps(uuid, text[]) rename to _start_steps_unguarded;

create function edgeflow._start_steps(p_run_id uuid, p_slugs text[])
returns void language plpgsql set search_path = '' as $$
declare
  r record;
begin
  select status, awaiting_slot into r from edgeflow.runs where id = p_run_id;
  if r.awaiting_slot is not null then
    return;
  end if;
  if r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') then
    update edgeflow.step_states set status = 'CANCELLED', ended_at = now()
     where run_id = p_run_id and status = 'PENDING';
    return;
  end if;
  perform edgeflow._start_steps_unguarded(p_run_id, p_slugs);
end
$$;

-- Tag-based limits (Prefect's `concurrencyLimitOptions`): read model.
create function edgeflow.concurrency_limit_json(p_tag text)
returns jsonb language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'tag', l.tag, 'limit', l."limit",
    'active_slots', (select count(*)::integer from edgeflow.slots s
                      where s.limit_key = 'tag:' || l.tag),
    'holders', coalesce((select jsonb_agg(jsonb_build_object(
                   'task', s.holder, 'run_id', s.run_id,
                   'acquired_at', edgeflow.iso(s.acquired_at)) order by s.acquired_at)
                 from (select * from edgeflow.slots s where s.limit_key = 'tag:' || l.tag
                        order by s.acquired_at limit 1000) s), '[]'),
    'created_at', edgeflow.iso(l.created_at), 'updated_at', edgeflow.iso(l.updated_at))
    from edgeflow.concurrency_limits l where l.tag = p_tag;
$$;

-- Create or change a tag limit. Lowering it below the slots in use takes
-- nothing away: running tasks finish, new claims wait until under the limit.
create function edgeflow.set_concurrency_limit(p_tag text, p_limit integer)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_created boolean;
begin
  insert into edgeflow.concurrency_limits as l (tag, "limit") values (p_tag, p_limit)
  on conflict (tag) do update set "limit" = excluded."limit", updated_at = now()
  returning (l.xmax = 0) into v_created;
  return jsonb_build_object('limit', edgeflow.concurrency_limit_json(p_tag),
                            'created', v_created);
end
$$;

-- Remove a tag limit; slots held under it are forgotten with it.
create function edgeflow.delete_concurrency_limit(p_tag text)
returns boolean language plpgsql set search_path = '' as $$
begin
  delete from edgeflow.concurrency_limits where tag = p_tag;
  if not found then
    return false;
  end if;
  delete from edgeflow.slots where limit_key = 'tag:' || p_tag;
  return true;
end
$$;

-- Create or update a queue of a pool (priority, limit, paused).
create function edgeflow.upsert_pool_queue(p_pool text, p_name text, p_priority integer,
                                           p_limit integer, p_paused boolean)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_created boolean;
begin
  if not exists (select 1 from edgeflow.pools where name = p_pool) then
    return jsonb_build_object('error', 'unknown_pool');
  end if;
  insert into edgeflow.pool_queues as q (pool, name, priority, concurrency_limit, paused)
  values (p_pool, p_name, p_priority, p_limit, p_paused)
  on conflict (pool, name) do update
     set priority = excluded.priority, concurrency_limit = excluded.concurrency_limit,
         paused = excluded.paused
  returning (q.xmax = 0) into v_created;
  return jsonb_build_object('pool', edgeflow.pool_json(p_pool), 'created', v_created);
end
$$;
