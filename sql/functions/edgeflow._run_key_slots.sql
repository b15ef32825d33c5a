-- The per-key slots a run of a deployment with `concurrency` entries needs:
-- one per entry, keyed 'dkey:<deployment>#<entry>:<rendered key>' (a key
-- template naming nothing renders as ""), with the entry's limit.
CREATE OR REPLACE FUNCTION edgeflow._run_key_slots(p_run_id uuid)
 RETURNS TABLE(limit_key text, slot_limit integer)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select 'dkey:' || r.deployment_id || '#' || (c.ord - 1) || ':'
           || coalesce(edgeflow._render_template(c.entry ->> 'key',
                                                 jsonb_build_object('run', r.parameters)), ''),
         (c.entry ->> 'limit')::integer
    from edgeflow.runs r
    join edgeflow.deployments d on d.id = r.deployment_id
    cross join lateral jsonb_array_elements(d.concurrency) with ordinality as c(entry, ord)
   where r.id = p_run_id
   order by c.ord;
$function$;
