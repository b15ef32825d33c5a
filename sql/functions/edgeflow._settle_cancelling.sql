-- A CANCELLING run whose last running task has ended becomes CANCELLED.
CREATE OR REPLACE FUNCTION edgeflow._settle_cancelling(p_run_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if exists (select 1 from edgeflow.runs where id = p_run_id and status = 'CANCELLING')
     and not exists (select 1 from edgeflow.tasks where run_id = p_run_id and status = 'RUNNING')
  then
    perform edgeflow._finish_run(p_run_id, 'CANCELLED', null);
  end if;
end
$function$;
