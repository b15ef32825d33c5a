-- Retention of runs: deletes at most p_limit finished runs (their steps and
-- tasks go with them, on delete cascade) that ended more than their
-- deployment's retention_days ago (p_retention_days, EDGEFLOW_RETENTION_DAYS,
-- for ad hoc runs and deployments without one). Never an unfinished run, a
-- crashed run Lazarus will still resurrect, a run with a child run that has
-- not finished, or a child whose parent run has not (edgeflow._run_pinned). Their events go by
-- partition (edgeflow.drop_partitions). Returns the number of runs deleted.
--
-- Candidates are read per deployment (and for ad hoc runs) through
-- runs_prunable, oldest end first, so a deployment that keeps its runs
-- longer is never re-read by the others' batches.
CREATE OR REPLACE FUNCTION edgeflow.prune_runs(p_limit integer, p_retention_days integer)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  -- Two branches, each an ordered scan of runs_prunable that stops at the
  -- batch: an "or" of both conditions read all 927,000 index entries of
  -- 1,000,000 runs past retention to sort them (3.7 s a batch).
  with candidates as (
    select c.id
      from edgeflow.deployments d
     cross join lateral (
       select r.id from edgeflow.runs r
        where r.deployment_id = d.id
          and r.ended_at < edgeflow.now()
                           - pg_catalog.make_interval(days => coalesce(d.retention_days, p_retention_days))
          and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
          and not r.lazarus_due
          and not edgeflow._run_pinned(r.id, r.parent_task_id)
        order by r.ended_at
        limit p_limit) c
    union all
    (select r.id from edgeflow.runs r
      where r.deployment_id is null
        and r.ended_at < edgeflow.now() - pg_catalog.make_interval(days => p_retention_days)
          and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
          and not r.lazarus_due
          and not edgeflow._run_pinned(r.id, r.parent_task_id)
      order by r.ended_at
      limit p_limit)
  ), batch as (
    select id from candidates limit p_limit
  ), deleted as (
    delete from edgeflow.runs r using batch c
     where r.id = c.id
       -- Rechecked on the locked row: a run retried meanwhile is kept.
       and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') and not r.lazarus_due
    returning 1
  )
  select count(*)::int from deleted;
$function$;
