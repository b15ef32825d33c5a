-- A run's events after `p_after` (at most `p_limit`), its status, and
-- `last_id`: where the next read should resume. Read in one snapshot. Event
-- ids are those of edgeflow.event_log (a row holding a task's and its step's
-- event is two, id and id + 1).
--
-- Ids are handed out at insert, not at commit: a claim (which takes no run
-- lock) and another transition of the same run can commit in the opposite
-- order of their ids, so an event may become visible just after a later one.
-- `last_id` therefore stops short of events younger than 5 s, which the next
-- read returns again (readers de-duplicate by id), unless the run is final
-- (its last transition held the run lock, so nothing of it is in flight) or
-- the page is full (a backlog is read through). Null when there is no run.
-- Young by the engine's clock: an event's `at` is its transaction's
-- edgeflow.now() (the start of a transaction that may still be open), so a
-- test that moved the clock still sees the margin end 5 s later.
CREATE OR REPLACE FUNCTION edgeflow.run_events(p_run_id uuid, p_after bigint, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
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
      else coalesce(min(e.id) filter (where e.at > (select edgeflow.now()) - interval '5 seconds') - 1,
                    max(e.id), p_after)
      end)
    from edgeflow.runs r
    left join lateral (
      -- On the index through `row_id` (see edgeflow.event_log): the sort
      -- of a row's two events stops at the limit.
      select * from edgeflow.event_log ev
       where ev.run_id = r.id and ev.row_id >= p_after and ev.id > p_after
         and ev.run_created_at = r.created_at -- reads the run's day partition only
       order by ev.row_id, ev.id limit p_limit) e on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;
