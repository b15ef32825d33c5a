CREATE OR REPLACE FUNCTION edgeflow.hand_back_claims(p_claims jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_count integer := 0;
begin
  for t in
    select tk.id, tk.run_id, tk.slug, tk.queue_name, tk.msg_id
      from jsonb_array_elements(coalesce(p_claims, '[]')) c
      join edgeflow.tasks tk on tk.id = (c ->> 'task')::uuid
     where tk.status = 'RUNNING' and tk.lease = (c ->> 'lease')::uuid
     order by tk.id
       for update of tk
  loop
    update edgeflow.tasks
       set status = 'QUEUED', attempts = greatest(attempts - 1, 0), lease = null,
           lease_expires_at = null, worker = null, available_at = edgeflow.now(),
           started_at = case when attempts > 1 then started_at end
     where id = t.id;
    perform edgeflow._requeue(t.id, edgeflow.now());
    update edgeflow.step_states ss
       set status = 'QUEUED', started_at = null
     where ss.run_id = t.run_id and ss.slug = t.slug and ss.status = 'RUNNING'
       and not exists (select 1 from edgeflow.tasks o
                        where o.run_id = t.run_id and o.slug = t.slug
                          and (o.status <> 'QUEUED' or o.attempts > 0));
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$function$;
