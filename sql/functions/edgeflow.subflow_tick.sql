CREATE OR REPLACE FUNCTION edgeflow.subflow_tick(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_orphans integer := 0;
begin
  for v_id in
    select c.id from edgeflow.runs c
      join edgeflow.tasks pt on pt.id = c.parent_task_id
     where c.parent_task_id is not null
       and c.status in ('SCHEDULED', 'PENDING', 'RUNNING')
       and pt.queue_name = 'ef_subflows'
       and (pt.status <> 'RUNNING' or pt.subflow_run_id is distinct from c.id)
     order by c.created_at limit p_limit
       for update of c skip locked
  loop
    perform edgeflow.cancel_run(v_id);
    v_orphans := v_orphans + 1;
  end loop;
  return jsonb_build_object('started', 0, 'orphans_cancelled', v_orphans);
end
$function$;
