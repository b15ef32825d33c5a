-- Retention of runs: deletes at most p_limit finished runs (their steps and
-- tasks go with them, on delete cascade) that ended more than their
-- deployment's retention_days ago (p_retention_days, EDGEFLOW_RETENTION_DAYS,
-- for ad hoc runs and deployments without one). Never an unfinished run, a
-- crashed run Lazarus will still resurrect, a run with a child run that has
-- not finished, or a child whose parent run has not. Their events go by
-- partition (edgeflow.drop_partitions). Returns the number of runs deleted.
--
-- Candidates are read per deployment through runs_prunable, oldest end
-- first, so a deployment that keeps its runs longer is never re-read by the
-- others' batches.
CREATE OR REPLACE FUNCTION edgeflow.prune_runs(p_limit integer, p_retention_days integer)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with owners as (
    select d.id, coalesce(d.retention_days, p_retention_days) as days
      from edgeflow.deployments d
    union all
    select null, p_retention_days
  ), candidates as (
    select c.id
      from owners o
     cross join lateral (
       select r.id from edgeflow.runs r
        -- Two index conditions, not "is not distinct from", so both use runs_prunable.
        where ((o.id is null and r.deployment_id is null) or r.deployment_id = o.id)
          and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
          and r.ended_at < edgeflow.now() - pg_catalog.make_interval(days => o.days)
          and not r.lazarus_due
          -- A child run (subflow step or ctx.runDeployment) names its parent's task.
          and not exists (select 1 from edgeflow.tasks t join edgeflow.runs ch on ch.parent_task_id = t.id
                           where t.run_id = r.id
                             and ch.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
          and not exists (select 1 from edgeflow.tasks pt join edgeflow.runs p on p.id = pt.run_id
                           where pt.id = r.parent_task_id
                             and p.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
        order by r.ended_at
        limit p_limit) c
     limit p_limit
  ), deleted as (
    delete from edgeflow.runs r using candidates c
     where r.id = c.id
       -- Rechecked on the locked row: a run retried meanwhile is kept.
       and r.status in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') and not r.lazarus_due
    returning 1
  )
  select count(*)::int from deleted;
$function$;
