-- A run's log lines after id `p_after` (at most `p_limit`), optionally only
-- of step `p_step`, task `p_task`, and level `p_level` or above (debug <
-- info < warn < error); the run's status; `last_id`, where the next read
-- resumes; and per task the lines dropped over its bounds. Read in one
-- snapshot. Unlike run_events no margin is needed at the live edge:
-- append_task_logs writes a run's lines one transaction at a time, so they
-- become visible in id order. Null when there is no run.
CREATE OR REPLACE FUNCTION edgeflow.run_logs(p_run_id uuid, p_after bigint, p_limit integer, p_step text DEFAULT NULL::text, p_task uuid DEFAULT NULL::uuid, p_level text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with levels(level, rank) as (
    values ('debug', 0), ('info', 1), ('warn', 2), ('error', 3)
  )
  select jsonb_build_object(
    'run_id', r.id, 'status', r.status,
    'logs', coalesce(jsonb_agg(jsonb_build_object(
              'id', l.id, 'at', edgeflow.iso(l.at), 'step', l.step, 'task', l.task_id,
              'attempt', l.attempt, 'level', l.level, 'message', l.message,
              'fields', l.fields) order by l.id)
            filter (where l.id is not null), '[]'),
    'last_id', coalesce(max(l.id), p_after),
    'dropped', (
      select coalesce(jsonb_agg(jsonb_build_object('task', s.task_id, 'step', tk.slug,
                                                   'dropped', s.dropped) order by s.task_id),
                      '[]')
        from edgeflow.task_log_stats s
        join edgeflow.tasks tk on tk.id = s.task_id
       where s.run_id = r.id and s.dropped > 0
         and (p_step is null or tk.slug = p_step) and (p_task is null or s.task_id = p_task)))
    from edgeflow.runs r
    left join lateral (
      select * from edgeflow.task_logs tl
       where tl.run_id = r.id and tl.id > p_after
         and tl.run_created_at = r.created_at -- reads the run's day partition only
         and (p_step is null or tl.step = p_step)
         and (p_task is null or tl.task_id = p_task)
         and (p_level is null
              or (select rank from levels where level = tl.level)
                 >= (select rank from levels where level = p_level))
       order by tl.id limit p_limit) l on true
   where r.id = p_run_id
   group by r.id, r.status;
$function$;
