-- Retention's guard (edgeflow.prune_runs): a finished run is kept while a
-- child run of it (a subflow step or ctx.runDeployment names its parent's
-- task) or its parent run has not finished. A function the planner cannot
-- inline (it has a SET clause), so prune_runs tests it per candidate in
-- index order and stops at its batch: inlined, the two anti-joins were
-- planned over all 927,000 runs past retention of 1,000,000 (2 s a batch).
CREATE OR REPLACE FUNCTION edgeflow._run_pinned(p_run uuid, p_parent_task uuid)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select exists (select 1 from edgeflow.tasks t join edgeflow.runs ch on ch.parent_task_id = t.id
                  where t.run_id = p_run
                    and ch.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'))
      or exists (select 1 from edgeflow.tasks pt join edgeflow.runs p on p.id = pt.run_id
                  where pt.id = p_parent_task
                    and p.status not in ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'));
$function$;
